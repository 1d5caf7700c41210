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
