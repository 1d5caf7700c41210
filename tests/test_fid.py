"""Tests of gancnn.gan.fid: the Frechet distance against closed forms and SciPy, chunking, the Inception features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from gancnn.gan import fid


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random symmetric positive definite matrix."""
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.05 * np.eye(d)


def test_identical_gaussians_have_zero_distance() -> None:
    """FID(N(mu, S), N(mu, S)) = 0."""
    rng = np.random.default_rng(0)
    s, mu = _spd(rng, 30), rng.standard_normal(30)
    assert fid.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)


def test_shifted_gaussians_give_squared_shift() -> None:
    """Equal covariances: FID = ||mu1 - mu2||^2."""
    rng = np.random.default_rng(1)
    s, mu, d = _spd(rng, 20), rng.standard_normal(20), rng.standard_normal(20)
    assert fid.frechet_distance(mu, s, mu + d, s) == pytest.approx(d @ d, rel=1e-9)


def test_scaled_and_diagonal_covariances() -> None:
    """S2 = c^2 S1 gives (1 - c)^2 tr S1; diagonal covariances give sum (sqrt a - sqrt b)^2."""
    rng = np.random.default_rng(2)
    s, mu = _spd(rng, 25), np.zeros(25)
    assert fid.frechet_distance(mu, s, mu, 0.25 * s) == pytest.approx(0.25 * np.trace(s), rel=1e-9)
    a, b = rng.uniform(0.1, 2, 10), rng.uniform(0.1, 2, 10)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert fid.frechet_distance(np.zeros(10), np.diag(a), np.zeros(10), np.diag(b)) == pytest.approx(expected, rel=1e-9)


def test_one_dimensional_case() -> None:
    """In 1-D, W2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2."""
    value = fid.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-1.0]), np.array([[9.0]]))
    assert value == pytest.approx(4.0 + 1.0, rel=1e-12)


def test_matches_scipy_sqrtm_on_general_pairs() -> None:
    """The eigenvalue route equals tr sqrtm(S1 S2) from SciPy for non-commuting covariances, also rank-deficient."""
    rng = np.random.default_rng(3)
    for rank in (40, 10):
        x, y = rng.standard_normal((rank + 1, 40)), rng.standard_normal((rank + 1, 40)) * 2
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        expected = np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
        assert fid.frechet_distance(np.zeros(40), s1, np.zeros(40), s2) == pytest.approx(expected, rel=1e-6)


def test_sample_fid_of_gaussian_data_approaches_closed_form() -> None:
    """FID of large samples from two known Gaussians is close to the closed form (small bias)."""
    rng = np.random.default_rng(4)
    d, n = 5, 200_000
    x = rng.standard_normal((n, d))
    y = rng.standard_normal((n, d)) * 2 + 1
    expected = d * 1.0 + d * (2 - 1) ** 2
    assert fid.fid_from_features(x, y) == pytest.approx(expected, rel=1e-2)


def test_chunked_fid_is_mean_of_chunks_and_exceeds_full_fid_for_small_chunks() -> None:
    """The chunked protocol averages per-chunk FIDs; small chunks are biased upwards on equal distributions."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((400, 20)), rng.standard_normal((400, 20))
    mean, values = fid.chunked_fid(x, y, 100)
    assert len(values) == 4 and mean == pytest.approx(np.mean(values))
    assert values[0] == pytest.approx(fid.fid_from_features(x[:100], y[:100]))
    assert mean > fid.fid_from_features(x, y)
    with pytest.raises(ValueError):
        fid.chunked_fid(x, y, 1000)


def test_shape_errors() -> None:
    """Mismatched shapes and too few samples fail with ValueError."""
    with pytest.raises(ValueError):
        fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError):
        fid.gaussian_stats(np.zeros((1, 5)))


def test_inception_features_shape_and_determinism() -> None:
    """The shipped Inception-v3 gives 2048-d features, equal for equal images, from uint8 input only."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy shared CPU runs the TorchScript network far faster on one thread
    try:
        net = fid.InceptionFeatures()
        img = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        feats = net(torch.cat([img, img]), batch_size=2, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert feats.shape == (2, fid.FEATURE_DIM) and np.isfinite(feats).all()
    assert np.allclose(feats[0], feats[1], atol=1e-5)
    with pytest.raises(ValueError):
        net(torch.zeros(1, 3, 32, 32), progress=False)


def test_small_sample_route_equals_covariance_route() -> None:
    """The n x n nuclear-norm route gives the covariance-route FID when n < D (rank-deficient covariances)."""
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((12, 50)), rng.standard_normal((9, 50)) * 1.5 + 0.2
    expected = fid.frechet_distance(*fid.gaussian_stats(x), *fid.gaussian_stats(y))
    assert fid.fid_small_sample(x, y) == pytest.approx(expected, rel=1e-7)  # eigh route: sqrt of ~1e-15 round-off
    assert fid.fid_from_features(x, y) == pytest.approx(expected, rel=1e-7)
    assert fid.fid_small_sample(x, x) == pytest.approx(0.0, abs=1e-9)


def test_optimized_inception_graph_gives_the_shipped_features() -> None:
    """The frozen, channels-last graph computes the shipped network's features up to float rounding."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        imgs = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
        shipped = fid.InceptionFeatures()(imgs, batch_size=2, progress=False)
        fast = fid.InceptionFeatures(optimize=True)
        optimized = fast(imgs, batch_size=2, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert fast.optimized and isinstance(fast.helper.model, fid.ChannelsLast)
    assert np.abs(optimized - shipped).max() <= 1e-4 * np.abs(shipped).max()


class _FakeInception:
    """Stands in for InceptionFeatures: features are the images' channel means, and calls are counted."""

    optimized = True
    device = torch.device("cpu")

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images: torch.Tensor, batch_size: int = 50, progress: bool = True, desc: str = "") -> np.ndarray:
        self.calls += 1
        return images.float().mean(dim=(2, 3)).repeat(1, 4).numpy().astype(np.float64)


def test_real_features_are_computed_once_then_read_from_the_local_cache(tmp_artifacts, monkeypatch) -> None:
    """The second request loads the stored features (no Inception call) and gets exactly the same values."""
    from gancnn import data

    images = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))

    class _Set:
        classes = list(range(3))
        data_copy = data.DataCopy(dataset="cifar10", copy="test-copy", path="x", description="fake")

    monkeypatch.setattr(data, "targets", lambda ds: np.arange(12) % 3)
    monkeypatch.setattr(data, "to_tensors", lambda ds, idx: (images[torch.as_tensor(idx)], torch.zeros(len(idx))))
    net = _FakeInception()
    first = fid.real_features(net, _Set(), "test", 8, seed=0, batch_size=4)
    second = fid.real_features(net, _Set(), "test", 8, seed=0, batch_size=4)
    assert net.calls == 1 and first.shape == (8, 12) and np.array_equal(first, second)
    in_file_order = net(images[torch.as_tensor(data.select(_Set(), limit=8, seed=0))])
    order = np.random.default_rng(0).permutation(8)  # the copy is sorted by class: rows come back shuffled
    assert np.allclose(first, in_file_order[order]) and not np.allclose(first, in_file_order)
    assert (tmp_artifacts / "artifacts" / "local" / "inception-test").is_dir()
    fid.real_features(net, _Set(), "test", 8, seed=1, batch_size=4)  # another selection: another entry
    assert net.calls == 3  # the direct call above, then this one
