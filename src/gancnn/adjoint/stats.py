"""How spread out is a set of effective hypersurfaces? Spread measures, their ratio with a permutation
test and a bootstrap interval, and low-dimensional projections (t-SNE, PCA, Factor Analysis).

A set is an (n, d) array, one flattened hypersurface per row. Two measures:

* total variance: trace of the sample covariance (ddof=1), the sum of the per-coordinate variances;
* mean pairwise distance: the mean Euclidean distance over the n(n-1)/2 pairs.

They are tied by mean_{i != j} ||x_i - x_j||^2 = 2 * total variance, which the tests check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist, squareform
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.manifold import TSNE

MEASURES = ("total_variance", "mean_pairwise_distance")


def _as_rows(x: np.ndarray) -> np.ndarray:
    """Float64 (n, d) view of a set of hypersurfaces (any trailing shape is flattened)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 hypersurfaces as rows, got shape {x.shape}")
    return x.reshape(x.shape[0], -1)


def total_variance(x: np.ndarray) -> float:
    """Trace of the sample covariance (ddof=1)."""
    return float(_as_rows(x).var(axis=0, ddof=1).sum())


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows."""
    return float(pdist(_as_rows(x)).mean())


def _from_distances(d: np.ndarray, idx: np.ndarray, measure: str) -> float:
    """A spread measure of the rows `idx` from the full distance matrix (no repeated indices)."""
    sub = d[np.ix_(idx, idx)]
    off = ~np.eye(len(idx), dtype=bool)
    if measure == "mean_pairwise_distance":
        return float(sub[off].mean())
    if measure == "total_variance":
        return float((sub[off] ** 2).mean() / 2.0)
    raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")


def spread(x: np.ndarray, measure: str) -> float:
    """Spread of one set by name."""
    funcs: dict[str, Callable[[np.ndarray], float]] = {
        "total_variance": total_variance,
        "mean_pairwise_distance": mean_pairwise_distance,
    }
    if measure not in funcs:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    return funcs[measure](x)


@dataclass
class SpreadComparison:
    """Spread of set A over set B for one measure, with a permutation p-value and a bootstrap interval."""

    measure: str
    spread_a: float
    spread_b: float
    ratio: float
    p_value: float  # one-sided: P(ratio under random relabelling >= observed)
    ci_low: float
    ci_high: float
    n_permutations: int
    n_bootstrap: int


def permutation_null(
    a: np.ndarray, b: np.ndarray, measure: str, n_permutations: int, rng: np.random.Generator
) -> np.ndarray:
    """Ratios spread(A*)/spread(B*) after random relabelling of the pooled rows (A* has |A| rows)."""
    pooled = np.concatenate([_as_rows(a), _as_rows(b)])
    d = squareform(pdist(pooled))
    n_a = len(a)
    out = np.empty(n_permutations)
    for i in range(n_permutations):
        perm = rng.permutation(len(pooled))
        out[i] = _from_distances(d, perm[:n_a], measure) / _from_distances(d, perm[n_a:], measure)
    return out


def bootstrap_ratios(
    a: np.ndarray, b: np.ndarray, measure: str, n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """Ratios after resampling each set's rows with replacement (pairs of identical draws are skipped)."""
    a, b = _as_rows(a), _as_rows(b)
    da, db = squareform(pdist(a)), squareform(pdist(b))
    out = np.empty(n_bootstrap)
    for i in range(n_bootstrap):
        out[i] = _resampled(da, _draw(rng, len(a)), measure) / _resampled(db, _draw(rng, len(b)), measure)
    return out


def _draw(rng: np.random.Generator, n: int) -> np.ndarray:
    """n indices drawn with replacement, redrawn until at least two differ."""
    while True:
        idx = rng.integers(0, n, n)
        if len(np.unique(idx)) > 1:
            return idx


def _resampled(d: np.ndarray, idx: np.ndarray, measure: str) -> float:
    """Spread of a resample: pairs of distinct draws only, so the measures keep their meaning."""
    sub = d[np.ix_(idx, idx)]
    distinct = idx[:, None] != idx[None, :]
    vals = sub[distinct]
    return float(vals.mean()) if measure == "mean_pairwise_distance" else float((vals**2).mean() / 2.0)


def compare_spreads(
    a: np.ndarray,
    b: np.ndarray,
    measure: str = "total_variance",
    n_permutations: int = 2000,
    n_bootstrap: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> SpreadComparison:
    """Ratio spread(A)/spread(B), its one-sided permutation p-value and a percentile bootstrap interval."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_permutations < 1 or n_bootstrap < 1:
        raise ValueError("n_permutations and n_bootstrap must be positive")
    rng = np.random.default_rng(seed)
    sa, sb = spread(a, measure), spread(b, measure)
    ratio = sa / sb
    null = permutation_null(a, b, measure, n_permutations, rng)
    p = (1 + int((null >= ratio).sum())) / (1 + n_permutations)
    boot = bootstrap_ratios(a, b, measure, n_bootstrap, rng)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return SpreadComparison(measure, sa, sb, ratio, p, float(lo), float(hi), n_permutations, n_bootstrap)


def project(x: np.ndarray, method: str, dim: int = 2, seed: int = 0, perplexity: float = 5.0) -> np.ndarray:
    """Project rows to `dim` dimensions with 'tsne', 'pca' or 'fa' (scikit-learn), after centring."""
    rows = _as_rows(x)
    rows = rows - rows.mean(0)
    if method == "tsne":
        perp = min(perplexity, (len(rows) - 1) / 3.0)
        return TSNE(n_components=dim, perplexity=perp, init="pca", random_state=seed).fit_transform(rows)
    if method == "pca":
        return PCA(n_components=dim, random_state=seed).fit_transform(rows)
    if method == "fa":
        return FactorAnalysis(n_components=dim, random_state=seed).fit_transform(rows)
    raise ValueError(f"method must be 'tsne', 'pca' or 'fa', got {method!r}")
