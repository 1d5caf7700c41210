"""Random-matrix tools: GMM twins of representation data, Gram spectra and distances between spectra.

The construction follows Seddik et al. (2020): for each class, m representations estimate a mean
and a covariance; a Gaussian-mixture (GMM) twin is `z = mean + t C^(1/2)`; the Gram matrix of the
stacked rows is `G = X X^T / p`. Covariances estimated from m < p samples are singular, so the
square root is taken through the SVD of the centred data (exact symmetric PSD root, never negative
or complex eigenvalues), which also avoids forming any p x p matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate, stats

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
    basis: torch.Tensor | None  # (p, r), orthonormal columns; None means the identity (r = p)
    scales: torch.Tensor  # (r,), singular values of C^(1/2)

    @property
    def dim(self) -> int:
        """Representation size p."""
        return int(self.mean.shape[0])

    def sqrt_cov(self) -> torch.Tensor:
        """The dense p x p symmetric root C^(1/2) (for checks on small p)."""
        if self.basis is None:
            return torch.diag(self.scales)
        return (self.basis * self.scales) @ self.basis.T

    def cov(self) -> torch.Tensor:
        """The dense p x p covariance C (for checks on small p)."""
        if self.basis is None:
            return torch.diag(self.scales**2)
        return (self.basis * self.scales**2) @ self.basis.T

    def apply_sqrt(self, t: torch.Tensor) -> torch.Tensor:
        """Return t C^(1/2) for rows t (n, p) without forming C: ((t V) * scales) V^T."""
        if self.basis is None:
            return t * self.scales
        return ((t @ self.basis) * self.scales) @ self.basis.T


GRAM_RTOL = 1e-6  # smallest relative singular value class_stats keeps when it works through the m x m Gram


def class_stats(x: torch.Tensor, rtol: float = 1e-10) -> ClassStats:
    """Estimate mean and covariance root (1/m normalisation) from rows x (m, p).

    The thin SVD of the centred rows comes from the eigenvectors of their m x m Gram when m < p (about 5x
    faster for 130 x 9216, same covariance to 1e-15 relative; tested against `torch.linalg.svd`); there
    directions with singular values below GRAM_RTOL times the largest are dropped (they carry < 1e-12 of C).
    """
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need a (m, p) matrix with m >= 2, got shape {tuple(x.shape)}")
    x = x.double()
    mean = x.mean(0)
    centred = x - mean
    if x.shape[0] < x.shape[1]:  # m < p: the m x m Gram's eigenvectors give the SVD at a fraction of its cost
        evals, u = torch.linalg.eigh(centred @ centred.T)
        s, u = evals.flip(0).clamp_min(0).sqrt(), u.flip(1)
        # the Gram resolves singular values only down to about sqrt(eps) s_max: cut there (GRAM_RTOL)
        keep = s > max(rtol, GRAM_RTOL) * s.max().clamp_min(1e-300)
        basis = (centred.T @ u[:, keep]) / s[keep]  # V = X_c^T U S^-1, orthonormal columns
        return ClassStats(mean, basis.contiguous(), s[keep] / np.sqrt(x.shape[0]))
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
        idx = index[start : start + batch]
        sub = h[idx[:, :, None], idx[:, None, :]]
        out.append(torch.linalg.eigvalsh(sub).flip(-1))
    return torch.cat(out)


# ---------------------------------------------------------------- distances between spectra


def wasserstein1(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Wasserstein-1 distance between two empirical eigenvalue distributions (scipy.stats)."""
    return float(stats.wasserstein_distance(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))


def ks(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic between two eigenvalue samples (scipy.stats)."""
    with warnings.catch_warnings():  # scipy warns when its exact p-value fails; the statistic does not use it
        warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful")
        return float(stats.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float)).statistic)


def top_relative_error(a: torch.Tensor, b: torch.Tensor, k: int) -> float:
    """Largest relative difference between the k top eigenvalues of two spectra (sorted descending)."""
    a, b = torch.as_tensor(a)[:k].double(), torch.as_tensor(b)[:k].double()
    return float(((a - b).abs() / b.abs().clamp_min(1e-300)).max())


def class_alignment(u: torch.Tensor, n_classes: int) -> np.ndarray:
    """For each eigenvector (column of u, rows grouped in equal class blocks): squared norm of its class-mean part."""
    u = torch.as_tensor(u).double()
    per_class = u.shape[0] // n_classes
    if per_class * n_classes != u.shape[0]:
        raise ValueError(f"{u.shape[0]} rows do not split into {n_classes} equal classes")
    block_sums = u.reshape(n_classes, per_class, -1).sum(1)  # J^T u with J the 0/1 class indicators
    return (block_sums.square().sum(0) / per_class).numpy()  # ||P_J u||^2, in [0, 1] for unit u


@dataclass
class SpectrumComparison:
    """Distances between the Gram spectra (and leading eigenspaces) of two data matrices.

    The uncentred Gram matrix of K classes has K isolated eigenvalues (the class means) above a bulk; the
    distances over all eigenvalues mix the two, so the bulk and the isolated ones are also compared apart.
    """

    w1: float  # Wasserstein-1 between all eigenvalues, divided by the mean eigenvalue of the first
    ks: float  # Kolmogorov-Smirnov statistic between all eigenvalues
    top: float  # largest relative error among the k top eigenvalues
    alignment: float  # largest difference in class alignment among the k leading eigenvectors
    bulk_w1: float = float("nan")  # W1 between the eigenvalues after the K isolated ones, / their mean in the first
    bulk_ks: float = float("nan")  # KS between those bulk eigenvalues
    isolated: float = float("nan")  # largest relative error among the K isolated eigenvalues

    def as_dict(self) -> dict[str, float]:
        """Return every distance as a dict."""
        return {
            "w1": self.w1,
            "ks": self.ks,
            "top": self.top,
            "alignment": self.alignment,
            "bulk_w1": self.bulk_w1,
            "bulk_ks": self.bulk_ks,
            "isolated": self.isolated,
        }


def compare(x: torch.Tensor, y: torch.Tensor, k: int, n_classes: int) -> SpectrumComparison:
    """Compare Gram spectra of two equally shaped matrices whose rows come in equal class blocks, ordered alike."""
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    ex, ux = gram_eigh(x)
    ey, uy = gram_eigh(y)
    scale = float(ex.mean())
    align = np.abs(class_alignment(ux[:, :k], n_classes) - class_alignment(uy[:, :k], n_classes)).max()
    bx, by = ex[n_classes:], ey[n_classes:]
    return SpectrumComparison(
        wasserstein1(ex, ey) / scale,
        ks(ex, ey),
        top_relative_error(ey, ex, k),
        float(align),
        bulk_w1=wasserstein1(bx, by) / float(bx.mean()),
        bulk_ks=ks(bx, by),
        isolated=top_relative_error(ey, ex, n_classes),
    )


def by_distance(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Resampled comparisons (one dict of distances each) as one array per distance."""
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


def noise_floor(
    draw: Callable[[torch.Generator], torch.Tensor], k: int, n_classes: int, n_pairs: int, seed: int
) -> dict[str, np.ndarray]:
    """The distances between pairs of independent draws of the same model (what 'equal' looks like)."""
    gen = torch.Generator().manual_seed(seed)
    rows = [compare(draw(gen), draw(gen), k, n_classes).as_dict() for _ in range(n_pairs)]
    return by_distance(rows)


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


def marchenko_pastur_cdf(x: np.ndarray | float, ratio: float, grid: int = 20_001) -> np.ndarray:
    """Cumulative distribution of the Marchenko-Pastur law (cumulative trapezoid of the density on a grid)."""
    lo, hi = (1 - np.sqrt(ratio)) ** 2, (1 + np.sqrt(ratio)) ** 2
    xs = lo + (hi - lo) * (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, grid)))  # denser at the edges
    cdf = integrate.cumulative_trapezoid(marchenko_pastur_pdf(xs, ratio), xs, initial=0)
    return np.interp(np.asarray(x, dtype=float), xs, cdf / cdf[-1], left=0.0, right=1.0)


# ---------------------------------------------------------------- experiments built from the pieces above


def isotropic_like(st: ClassStats) -> ClassStats:
    """The wrong-covariance control: same mean and trace, covariance (tr C / p) I (an isotropic GMM)."""
    p = st.dim
    level = float(st.scales.square().sum() / p) ** 0.5
    return ClassStats(st.mean, None, torch.full((p,), level, dtype=torch.float64))


FLOOR_QUANTILE = 0.95  # a distance "at the floor" is at or below this quantile of the resampled distances


def spread(values: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation and FLOOR_QUANTILE quantile of resampled distances."""
    values = np.asarray(values, dtype=float)
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "q95": float(np.quantile(values, FLOOR_QUANTILE)),
    }


def gan_floor(rows: Sequence[torch.Tensor], n: int, k: int, n_draws: int, seed: int) -> dict[str, np.ndarray]:
    """GAN against GAN: distances between two disjoint random n-row subsets of each class's held-out rows."""
    if min(len(r) for r in rows) < 2 * n:
        raise ValueError(f"the GAN floor needs 2 n = {2 * n} held-out rows per class, got {[len(r) for r in rows]}")
    gen = torch.Generator().manual_seed(seed)
    out: list[dict[str, float]] = []
    for _ in range(n_draws):
        perms = [torch.randperm(len(r), generator=gen) for r in rows]
        a = torch.cat([r[p[:n]].double() for r, p in zip(rows, perms)])
        b = torch.cat([r[p[n : 2 * n]].double() for r, p in zip(rows, perms)])
        out.append(compare(a, b, k, len(rows)).as_dict())
    return by_distance(out)


def refit_floor(
    rows: Sequence[torch.Tensor], m: int, n: int, k: int, n_draws: int, seed: int, t_sampler: Sampler = gaussian
) -> dict[str, np.ndarray]:
    """Twin against twin with re-estimated moments: each twin's class moments come from its own random m rows."""
    if min(len(r) for r in rows) <= m:
        raise ValueError(f"re-estimating the moments needs more than m = {m} rows per class")
    gen = torch.Generator().manual_seed(seed)

    def twin() -> torch.Tensor:
        """A twin whose moments were estimated from a fresh random m-subset of each class."""
        sts = [class_stats(r[torch.randperm(len(r), generator=gen)[:m]]) for r in rows]
        return gmm_twin(sts, n, gen, t_sampler)

    out = [compare(twin(), twin(), k, len(rows)).as_dict() for _ in range(n_draws)]
    return by_distance(out)


def twin_experiment(
    pools: Sequence[torch.Tensor],
    m: int,
    k: int,
    seed: int,
    t_sampler: Sampler = gaussian,
    n_floor: int = 3,
    reserve: Sequence[torch.Tensor] | None = None,
) -> dict[str, np.ndarray | float]:
    """GAN rows vs their GMM twin, resampling floors and an isotropic control; spectra and distances.

    Each pool holds m statistics rows then n GAN rows. The floors, `n_floor` draws each, give what "equal"
    looks like: `twin` (two twins of the same moments), and with `reserve` (further GAN rows per class, at
    least n) `refit` (two twins whose moments are re-estimated from random m rows of statistics rows and
    reserve) and `gan` (two disjoint n-row sets of GAN rows and reserve). For each distance, `floor_<name>_<key>`
    holds the mean, sd and 95% quantile of a floor, and `floor_<key>` the largest 95% quantile over the floors.
    """
    gen = torch.Generator().manual_seed(seed)
    sts, x = split_stats_samples(pools, m)
    n = x.shape[0] // len(pools)
    twin = gmm_twin(sts, n, gen, t_sampler)
    control = gmm_twin([isotropic_like(s) for s in sts], n, gen, t_sampler)
    ev_x, u_x = gram_eigh(x)
    ev_t, u_t = gram_eigh(twin)
    out: dict[str, np.ndarray | float] = {
        "eig_gan": ev_x.numpy(),
        "eig_gmm": ev_t.numpy(),
        "eig_control": gram_eigenvalues(control).numpy(),
        "vec_gan": u_x[:, :k].numpy(),
        "vec_gmm": u_t[:, :k].numpy(),
        "n_floor": n_floor,
    }
    for name, other in (("gmm", twin), ("control", control)):
        for key, value in compare(x, other, k, len(pools)).as_dict().items():
            out[f"{name}_{key}"] = value
    floors = {"twin": noise_floor(lambda g: gmm_twin(sts, n, g, t_sampler), k, len(pools), n_floor, seed + 1)}
    if reserve is not None:
        held_out = [torch.cat([p[m:], r]) for p, r in zip(pools, reserve)]
        statistics = [torch.cat([p[:m], r]) for p, r in zip(pools, reserve)]
        floors["refit"] = refit_floor(statistics, m, n, k, n_floor, seed + 2, t_sampler)
        floors["gan"] = gan_floor(held_out, n, k, n_floor, seed + 3)
    out["floors"] = list(floors)
    for key in floors["twin"]:
        for name, values in floors.items():
            for stat, value in spread(values[key]).items():
                out[f"floor_{name}_{key}_{stat}"] = value
        out[f"floor_{key}"] = max(float(out[f"floor_{name}_{key}_q95"]) for name in floors)
    return out


def subsample_eigenvalues(pools: Sequence[torch.Tensor], n: int, n_sims: int, seed: int) -> np.ndarray:
    """Eigenvalues (n_sims, K n) of G for n_sims draws of n rows per class from fixed pools (one pool Gram)."""
    feats = torch.cat([p.double() for p in pools])
    h = gram(feats)
    gen = torch.Generator().manual_seed(seed)
    offsets = np.cumsum([0] + [len(p) for p in pools[:-1]])
    index = torch.cat(
        [
            torch.stack([torch.randperm(len(p), generator=gen)[:n] for _ in range(n_sims)]) + int(o)
            for p, o in zip(pools, offsets)
        ],
        dim=1,
    )
    return sub_gram_eigenvalues(h, index).numpy()


def random_orthogonal(d: int, gen: torch.Generator) -> torch.Tensor:
    """A Haar-random d x d orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def same_singular_values(w: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random matrix with exactly the singular values of w: U' diag(s) V'^T with Haar U', V'."""
    s = torch.linalg.svdvals(w.double())
    u = random_orthogonal(w.shape[0], gen)[:, : len(s)]
    v = random_orthogonal(w.shape[1], gen)[:, : len(s)]
    return ((u * s) @ v.T).to(w.dtype)


def shuffled_entries(w: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The entries of w in a random order: the same values (so the same norm), the matrix structure destroyed."""
    flat = w.flatten()
    return flat[torch.randperm(flat.numel(), generator=gen)].reshape(w.shape)


def gaussian_like(w: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The control: i.i.d. Gaussian entries with the Frobenius norm of w (Marchenko-Pastur singular values)."""
    g = torch.randn(w.shape, generator=gen, dtype=torch.float64)
    return (g * (w.double().norm() / g.norm())).to(w.dtype)
