"""Tests of gancnn.gmm.rmt: GMM construction, Gram spectra, distances."""

import numpy as np
import pytest
import torch
from scipy import linalg, stats

from gancnn.gmm import noise, rmt


def test_sqrtm_psd_matches_scipy_and_handles_singular():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 8, generator=g, dtype=torch.float64)
    cov = a.T @ a  # 8 x 8, rank 5: singular
    root = rmt.sqrtm_psd(cov)
    assert torch.allclose(root @ root, cov, atol=1e-9)
    assert torch.allclose(root, root.T)
    ref = np.real(linalg.sqrtm(cov.numpy() + 1e-12 * np.eye(8)))
    assert np.abs(root.numpy() - ref).max() < 1e-4


def test_factored_root_is_the_symmetric_root():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20, 30, generator=g, dtype=torch.float64) @ torch.randn(30, 30, generator=g, dtype=torch.float64)
    st = rmt.class_stats(x)
    cov = torch.cov(x.T, correction=0)
    assert torch.allclose(st.cov(), cov, atol=1e-9)
    assert torch.allclose(st.sqrt_cov(), rmt.sqrtm_psd(cov), atol=1e-6)
    t = torch.randn(4, 30, generator=g, dtype=torch.float64)
    assert torch.allclose(st.apply_sqrt(t), t @ st.sqrt_cov(), atol=1e-9)


@pytest.mark.parametrize("t_name", ["N(0,1)", "Rademacher"])
def test_gmm_sample_moments_converge(t_name):
    g = torch.Generator().manual_seed(2)
    p = 6
    x = torch.randn(50, p, generator=g, dtype=torch.float64) * torch.arange(1, p + 1) + 3.0
    st = rmt.class_stats(x)
    errors = []
    for n in (2_000, 200_000):
        z = rmt.gmm_samples(st, n, g, noise.T_NOISES[t_name])
        errors.append(
            max(
                float((z.mean(0) - st.mean).abs().max()),
                float((torch.cov(z.T, correction=0) - st.cov()).abs().max() / st.cov().abs().max()),
            )
        )
    assert errors[1] < 0.02
    assert errors[1] < errors[0]


def test_gram_spectrum_follows_marchenko_pastur():
    g = torch.Generator().manual_seed(3)
    n, p = 400, 1600
    ev = rmt.gram_eigenvalues(torch.randn(n, p, generator=g, dtype=torch.float64)).numpy()
    ratio = n / p
    assert ev.max() < (1 + ratio**0.5) ** 2 + 0.1 and ev.min() > (1 - ratio**0.5) ** 2 - 0.1
    ks = stats.kstest(ev, lambda v: rmt.marchenko_pastur_cdf(v, ratio)).statistic
    assert ks < 0.03
    # a wrong ratio must be rejected by the same statistic
    ks_wrong = stats.kstest(ev, lambda v: rmt.marchenko_pastur_cdf(v, 0.5)).statistic
    assert ks_wrong > 0.1


def test_mp_density_integrates_to_one():
    ratio = 0.3
    lo, hi = (1 - ratio**0.5) ** 2, (1 + ratio**0.5) ** 2
    xs = np.linspace(lo, hi, 200_001)
    assert abs(np.trapezoid(rmt.marchenko_pastur_pdf(xs, ratio), xs) - 1) < 1e-3
    assert rmt.marchenko_pastur_cdf(lo - 1, ratio) == 0 and rmt.marchenko_pastur_cdf(hi + 1, ratio) == 1
    mean = np.trapezoid(xs * rmt.marchenko_pastur_pdf(xs, ratio), xs)
    assert abs(mean - 1) < 1e-3  # E[lambda] = tr(G)/n = 1 for unit-variance entries


def test_batched_eigenvalues_match_single_and_numpy():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 10, 25, generator=g, dtype=torch.float64)
    batched = rmt.gram_eigenvalues(x)
    for b in range(3):
        ref = np.sort(np.linalg.eigvalsh(x[b].numpy() @ x[b].numpy().T / 25))[::-1]
        assert np.allclose(batched[b].numpy(), ref)
    h = rmt.gram(x[0])
    idx = torch.tensor([[0, 2, 5], [1, 3, 9]])
    sub = rmt.sub_gram_eigenvalues(h, idx)
    assert torch.allclose(sub[1], rmt.gram_eigenvalues(x[0][idx[1]]))


def test_distances_zero_on_equal_and_known_shift():
    a = np.arange(10.0)
    assert rmt.wasserstein1(a, a) == 0 and rmt.ks(a, a) == 0
    assert abs(rmt.wasserstein1(a, a + 0.5) - 0.5) < 1e-12
    assert rmt.ks(a, a + 100) == 1.0


def test_compare_discriminates_wrong_covariance():
    """Two draws of one GMM sit near the noise floor; an isotropic GMM with the same trace does not."""
    g = torch.Generator().manual_seed(5)
    p, m, n, k = 200, 150, 60, 3
    scales = torch.logspace(-2, 0.5, p, dtype=torch.float64)
    classes = [
        torch.randn(m + n, p, generator=g, dtype=torch.float64) * scales
        + 2 * torch.randn(p, generator=g, dtype=torch.float64)
        for _ in range(k)
    ]
    sts, x = rmt.split_stats_samples(classes, m)
    twin = rmt.gmm_twin(sts, n, g)
    close = rmt.compare(x, twin, k, k)
    iso = [rmt.isotropic_like(s) for s in sts]
    assert torch.allclose(torch.diagonal(iso[0].cov()).sum(), torch.diagonal(sts[0].cov()).sum())
    t = torch.randn(3, p, generator=g, dtype=torch.float64)
    assert torch.allclose(iso[0].apply_sqrt(t), t @ iso[0].sqrt_cov())
    far = rmt.compare(x, rmt.gmm_twin(iso, n, g), k, k)
    assert far.ks > 3 * close.ks and far.w1 > 3 * close.w1, (far, close)
    floor = rmt.noise_floor(lambda gen: rmt.gmm_twin(sts, n, gen), k, k, n_pairs=3, seed=0)
    assert far.ks > 3 * floor["ks"].max()


def test_same_singular_values_and_control():
    g = torch.Generator().manual_seed(6)
    w = torch.randn(30, 12, generator=g, dtype=torch.float64) @ torch.diag(
        torch.logspace(-2, 1, 12, dtype=torch.float64)
    )
    w2 = rmt.same_singular_values(w, g)
    assert torch.allclose(torch.linalg.svdvals(w2), torch.linalg.svdvals(w), atol=1e-10)
    assert (w2 - w).abs().max() > 0.1
    q = rmt.random_orthogonal(8, g)
    assert torch.allclose(q.T @ q, torch.eye(8, dtype=torch.float64), atol=1e-12)
    w3 = rmt.gaussian_like(w, g)
    assert abs(float(w3.norm() - w.norm())) < 1e-9
    assert not torch.allclose(torch.linalg.svdvals(w3), torch.linalg.svdvals(w), atol=0.1)


def test_subsample_eigenvalues_match_direct_gram():
    g = torch.Generator().manual_seed(7)
    pools = [torch.randn(12, 40, generator=g, dtype=torch.float64) + i for i in range(3)]
    ev = rmt.subsample_eigenvalues(pools, n=4, n_sims=5, seed=0)
    assert ev.shape == (5, 12)
    # redo draw 0 by hand with the same generator sequence
    gen = torch.Generator().manual_seed(0)
    idx = [torch.stack([torch.randperm(12, generator=gen)[:4] for _ in range(5)]) for _ in pools]
    x = torch.cat([pools[c][idx[c][0]] for c in range(3)])
    assert np.allclose(ev[0], rmt.gram_eigenvalues(x).numpy())


def test_class_alignment():
    n_classes = 3
    indicator = torch.zeros(12, 2, dtype=torch.float64)
    indicator[:4, 0] = 0.5  # unit vector constant on class 0
    indicator[4:8, 1] = torch.tensor([0.5, -0.5, 0.5, -0.5])  # unit vector with zero class means
    assert np.allclose(rmt.class_alignment(indicator, n_classes), [1.0, 0.0])
    u = torch.linalg.qr(torch.randn(12, 12, dtype=torch.float64))[0]
    assert np.isclose(rmt.class_alignment(u, n_classes).sum(), n_classes)  # trace of the projector
    with pytest.raises(ValueError):
        rmt.class_alignment(torch.zeros(10, 1), 3)
