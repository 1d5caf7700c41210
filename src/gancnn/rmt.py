"""Random-matrix tools: GMM twins of representation data, Gram spectra and distances between spectra.

The construction follows Seddik et al. (2020): for each class, m representations estimate a mean
and a covariance; a Gaussian-mixture (GMM) twin is `z = mean + t C^(1/2)`; the Gram matrix of the
stacked rows is `G = X X^T / p`. Covariances estimated from m < p samples are singular, so the
square root is taken through the SVD of the centred data (exact symmetric PSD root, never negative
or complex eigenvalues), which also avoids forming any p x p matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate, linalg, stats

Sampler = Callable[[int, int, torch.Generator], torch.Tensor]


def sqrtm_psd(cov: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a PSD matrix via eigh, negative round-off eigenvalues clipped to 0."""
    cov = 0.5 * (cov + cov.T)
    evals, evecs = torch.linalg.eigh(cov)
    return (evecs * evals.clamp_min(0).sqrt()) @ evecs.T


@dataclass
class ClassStats:
    """Mean and covariance square root of one class, the root kept in factored form.

    The covariance is C = centred^T centred / m = V diag(s^2 / m) V^T, so its symmetric root is
    C^(1/2) = V diag(s / sqrt(m)) V^T; `basis` holds V (p x r) and `scales` holds s / sqrt(m).
    """

    mean: torch.Tensor  # (p,)
    basis: torch.Tensor  # (p, r), orthonormal columns
    scales: torch.Tensor  # (r,), singular values of C^(1/2)

    @property
    def dim(self) -> int:
        """Representation size p."""
        return int(self.mean.shape[0])

    def sqrt_cov(self) -> torch.Tensor:
        """The dense p x p symmetric root C^(1/2) (for checks on small p)."""
        return (self.basis * self.scales) @ self.basis.T

    def cov(self) -> torch.Tensor:
        """The dense p x p covariance C (for checks on small p)."""
        return (self.basis * self.scales**2) @ self.basis.T

    def apply_sqrt(self, t: torch.Tensor) -> torch.Tensor:
        """Return t C^(1/2) for rows t (n, p) without forming C: ((t V) * scales) V^T."""
        return ((t @ self.basis) * self.scales) @ self.basis.T


def class_stats(x: torch.Tensor, rtol: float = 1e-10) -> ClassStats:
    """Estimate mean and covariance root (1/m normalisation) from rows x (m, p)."""
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need a (m, p) matrix with m >= 2, got shape {tuple(x.shape)}")
    x = x.double()
    mean = x.mean(0)
    centred = x - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    keep = s > rtol * s.max().clamp_min(1e-300)
    return ClassStats(mean, vh[keep].T.contiguous(), s[keep] / np.sqrt(x.shape[0]))


def gaussian(n: int, p: int, gen: torch.Generator) -> torch.Tensor:
    """Standard normal noise t (n, p)."""
    return torch.randn(n, p, generator=gen, dtype=torch.float64)


def gmm_samples(st: ClassStats, n: int, gen: torch.Generator, t_sampler: Sampler = gaussian) -> torch.Tensor:
    """Draw n rows z = mean + t C^(1/2) (eq. 123) with t from t_sampler (zero mean, unit variance)."""
    t = t_sampler(n, st.dim, gen).to(torch.float64)
    return st.mean + st.apply_sqrt(t)


def split_stats_samples(feats: Sequence[torch.Tensor], m: int) -> tuple[list[ClassStats], torch.Tensor]:
    """For each class (rows of feats[k]), estimate stats on the first m rows; stack the rest as X."""
    stats_, rest = [], []
    for f in feats:
        if f.shape[0] <= m:
            raise ValueError(f"a class has {f.shape[0]} rows; need more than m = {m}")
        stats_.append(class_stats(f[:m]))
        rest.append(f[m:].double())
    return stats_, torch.cat(rest)


def gmm_twin(stats_: Sequence[ClassStats], n: int, gen: torch.Generator, t_sampler: Sampler = gaussian) -> torch.Tensor:
    """Stack n GMM rows per class, class by class, as the twin of the GAN-data matrix."""
    return torch.cat([gmm_samples(s, n, gen, t_sampler) for s in stats_])


def gram(x: torch.Tensor) -> torch.Tensor:
    """Gram matrix G = X X^T / p for X (..., n, p), batched over leading dimensions."""
    return x @ x.transpose(-1, -2) / x.shape[-1]


def gram_eigenvalues(x: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (descending) of G = X X^T / p, batched over leading dimensions (eigvalsh)."""
    return torch.linalg.eigvalsh(gram(x.double())).flip(-1)


def gram_eigh(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and eigenvectors (columns) of G = X X^T / p."""
    evals, evecs = torch.linalg.eigh(gram(x.double()))
    return evals.flip(-1), evecs.flip(-1)


def sub_gram_eigenvalues(h: torch.Tensor, index: torch.Tensor, batch: int = 50) -> torch.Tensor:
    """Eigenvalues (descending) of the sub-Gram matrices h[idx][:, idx] for each row idx of index (S, n)."""
    out = []
    for start in range(0, index.shape[0], batch):
        idx = index[start:start + batch]
        sub = h[idx[:, :, None], idx[:, None, :]]
        out.append(torch.linalg.eigvalsh(sub).flip(-1))
    return torch.cat(out)


# ---------------------------------------------------------------- distances between spectra


def wasserstein1(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Wasserstein-1 distance between two empirical eigenvalue distributions (scipy.stats)."""
    return float(stats.wasserstein_distance(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))


def ks(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic between two eigenvalue samples (scipy.stats)."""
    return float(stats.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float)).statistic)


def top_relative_error(a: torch.Tensor, b: torch.Tensor, k: int) -> float:
    """Largest relative difference between the k top eigenvalues of two spectra (sorted descending)."""
    a, b = torch.as_tensor(a)[:k].double(), torch.as_tensor(b)[:k].double()
    return float(((a - b).abs() / b.abs().clamp_min(1e-300)).max())


def subspace_distance(u: torch.Tensor, v: torch.Tensor) -> float:
    """Sine of the largest principal angle between the column spans of u and v (scipy.linalg)."""
    angles = linalg.subspace_angles(np.asarray(u, dtype=float), np.asarray(v, dtype=float))
    return float(np.sin(angles.max()))


@dataclass
class SpectrumComparison:
    """Distances between the Gram spectra (and leading eigenspaces) of two data matrices."""

    w1: float  # Wasserstein-1 between all eigenvalues, divided by the mean eigenvalue of the first
    ks: float  # Kolmogorov-Smirnov statistic between all eigenvalues
    top: float  # largest relative error among the k top eigenvalues
    subspace: float  # sin of the largest principal angle between the leading k-dim eigenspaces

    def as_dict(self) -> dict[str, float]:
        """Return the four numbers as a dict."""
        return {"w1": self.w1, "ks": self.ks, "top": self.top, "subspace": self.subspace}


def compare(x: torch.Tensor, y: torch.Tensor, k: int) -> SpectrumComparison:
    """Compare Gram spectra of two equally shaped matrices whose rows are ordered by class alike."""
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    ex, ux = gram_eigh(x)
    ey, uy = gram_eigh(y)
    scale = float(ex.mean())
    return SpectrumComparison(wasserstein1(ex, ey) / scale, ks(ex, ey), top_relative_error(ey, ex, k),
                              subspace_distance(ux[:, :k], uy[:, :k]))


def noise_floor(draw: Callable[[torch.Generator], torch.Tensor], k: int, n_pairs: int, seed: int) -> dict[str, np.ndarray]:
    """The distances between pairs of independent draws of the same model (what 'equal' looks like)."""
    gen = torch.Generator().manual_seed(seed)
    rows = [compare(draw(gen), draw(gen), k).as_dict() for _ in range(n_pairs)]
    return {name: np.array([r[name] for r in rows]) for name in rows[0]}


# ---------------------------------------------------------------- Marchenko-Pastur reference


def marchenko_pastur_pdf(x: np.ndarray, ratio: float) -> np.ndarray:
    """Density of the eigenvalues of X X^T / p, X (n, p) i.i.d. unit variance, ratio = n / p <= 1."""
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio n/p must be in (0, 1], got {ratio}")
    lo, hi = (1 - np.sqrt(ratio)) ** 2, (1 + np.sqrt(ratio)) ** 2
    x = np.asarray(x, dtype=float)
    inside = (x > lo) & (x < hi)
    out = np.zeros_like(x)
    xi = x[inside]
    out[inside] = np.sqrt((hi - xi) * (xi - lo)) / (2 * np.pi * ratio * xi)
    return out


def marchenko_pastur_cdf(x: float, ratio: float) -> float:
    """Cumulative distribution of the Marchenko-Pastur law (numerical integral of the density)."""
    lo, hi = (1 - np.sqrt(ratio)) ** 2, (1 + np.sqrt(ratio)) ** 2
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    return float(integrate.quad(lambda s: marchenko_pastur_pdf(np.array([s]), ratio)[0], lo, x, limit=200)[0])
