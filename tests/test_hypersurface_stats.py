"""Spread measures, their ratio test and projections (gancnn.adjoint.stats)."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from gancnn.adjoint import stats as hs


def test_measures_match_numpy_and_identity():
    """Total variance is the trace of np.cov; mean squared pairwise distance is twice it."""
    x = np.random.default_rng(0).normal(size=(30, 7))
    assert hs.total_variance(x) == pytest.approx(np.trace(np.cov(x, rowvar=False)), rel=1e-12)
    d = np.array([np.linalg.norm(x[i] - x[j]) for i in range(30) for j in range(i + 1, 30)])
    assert hs.mean_pairwise_distance(x) == pytest.approx(d.mean(), rel=1e-12)
    assert (pdist(x) ** 2).mean() == pytest.approx(2 * hs.total_variance(x), rel=1e-12)


def test_ratio_detects_a_wider_set_and_not_an_equal_one():
    """A set with 3x the scale gives ratio ~9 in variance, p small, CI covering 9; equal sets do not."""
    rng = np.random.default_rng(1)
    a, b = 3.0 * rng.normal(size=(40, 20)), rng.normal(size=(40, 20))
    c = hs.compare_spreads(a, b, "total_variance", n_permutations=300, n_bootstrap=300, seed=0)
    assert c.ratio == pytest.approx(hs.total_variance(a) / hs.total_variance(b))
    assert c.p_value < 0.01 and c.ci_low < 9.0 < c.ci_high and c.ci_low > 4.0
    same = hs.compare_spreads(
        rng.normal(size=(40, 20)),
        rng.normal(size=(40, 20)),
        "mean_pairwise_distance",
        n_permutations=300,
        n_bootstrap=300,
        seed=0,
    )
    assert same.p_value > 0.01 and same.ci_low < 1.0 < same.ci_high


def test_projections_shapes_and_bad_input():
    """t-SNE, PCA and FA return (n, dim); unknown methods and single rows fail."""
    x = np.random.default_rng(2).normal(size=(20, 50))
    for method in ("tsne", "pca", "fa"):
        assert hs.project(x, method, dim=2).shape == (20, 2)
    with pytest.raises(ValueError):
        hs.project(x, "umap")
    with pytest.raises(ValueError):
        hs.total_variance(x[:1])
    with pytest.raises(ValueError):
        hs.spread(x, "range")


def test_permutation_null_bootstrap_and_p_value_match_a_brute_force_recomputation():
    """Each relabelled or resampled ratio equals the spreads recomputed from the rows (same draws), so the
    distance-matrix shortcut (total variance = mean squared distance / 2, eq-adv-spread) holds on every subset."""
    rows = np.random.default_rng(3)
    a, b = 2.0 * rows.normal(size=(5, 4)), rows.normal(size=(7, 4))  # unequal sizes: a sum would not cancel
    pooled = np.concatenate([a, b])

    def distinct_pair_spread(x: np.ndarray, idx: np.ndarray, measure: str) -> float:
        """Spread of a resample over the pairs of distinct draws, one pair at a time."""
        d = [np.linalg.norm(x[i] - x[j]) for i in idx for j in idx if i != j]
        return float(np.mean(d)) if measure == "mean_pairwise_distance" else float(np.mean(np.square(d)) / 2)

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        """The bootstrap draw: n indices with replacement, redrawn until two differ."""
        while True:
            idx = rng.integers(0, n, n)
            if len(np.unique(idx)) > 1:
                return idx

    for measure in hs.MEASURES:
        rng = np.random.default_rng(0)
        null, boot = [], []
        for _ in range(30):
            perm = rng.permutation(len(pooled))
            null.append(hs.spread(pooled[perm[:5]], measure) / hs.spread(pooled[perm[5:]], measure))
        for _ in range(40):
            ia, ib = draw(rng, len(a)), draw(rng, len(b))
            boot.append(distinct_pair_spread(a, ia, measure) / distinct_pair_spread(b, ib, measure))
        np.testing.assert_allclose(hs.permutation_null(a, b, measure, 30, np.random.default_rng(0)), null, rtol=1e-10)
        c = hs.compare_spreads(a, b, measure, n_permutations=30, n_bootstrap=40, seed=0)
        ratio = hs.spread(a, measure) / hs.spread(b, measure)
        assert c.ratio == pytest.approx(ratio, rel=1e-12)
        assert c.p_value == pytest.approx((1 + sum(r >= ratio for r in null)) / 31)
        assert (c.ci_low, c.ci_high) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])), rel=1e-10)
