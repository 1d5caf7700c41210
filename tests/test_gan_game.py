"""Tests for gancnn.gan.game: optimal discriminator, value identity, Jensen-Shannon divergence."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from gancnn.gan import game as gan_game

X = np.linspace(-12, 12, 24001)
P_DATA = gan_game.Mixture1D((0.5, 0.5), (-2.0, 2.0), (0.6, 0.6))


def test_value_identity() -> None:
    """V(G, D*) = -log 4 + 2 JSD for several generators."""
    pd_ = P_DATA.pdf(X)
    for mu, s in [(0.0, 1.0), (3.0, 0.5), (-1.0, 2.0)]:
        pg = stats.norm.pdf(X, mu, s)
        v = gan_game.value(gan_game.optimal_discriminator(pd_, pg), pd_, pg, X)
        assert abs(v - (-np.log(4) + 2 * gan_game.jensen_shannon(pd_, pg, X))) < 1e-6


def test_optimal_discriminator_is_a_maximum() -> None:
    """Perturbing D* in any direction lowers V."""
    pd_, pg = P_DATA.pdf(X), stats.norm.pdf(X, 0.5, 1.5)
    d_star = gan_game.optimal_discriminator(pd_, pg)
    v_star = gan_game.value(d_star, pd_, pg, X)
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = np.clip(d_star + 0.05 * rng.standard_normal(X.shape), 1e-6, 1 - 1e-6)
        assert gan_game.value(d, pd_, pg, X) < v_star
    assert gan_game.value(np.full_like(X, 0.5), pd_, pg, X) < v_star


def test_jensen_shannon_against_scipy_and_limits() -> None:
    """Grid JSD matches scipy's (squared) JS distance; 0 for equal densities, log 2 for disjoint ones."""
    pd_, pg = P_DATA.pdf(X), stats.norm.pdf(X, 1.0, 1.0)
    ours = gan_game.jensen_shannon(pd_, pg, X)
    assert abs(ours - jensenshannon(pd_, pg) ** 2) < 1e-6
    assert abs(gan_game.jensen_shannon(pd_, pd_, X)) < 1e-12
    far = stats.norm.pdf(X, 10.0, 0.2) + 0 * X
    near = stats.norm.pdf(X, -10.0, 0.2)
    assert abs(gan_game.jensen_shannon(near, far, X) - np.log(2)) < 1e-6


def test_trained_discriminator_approaches_optimum() -> None:
    """A small MLP trained on samples ends close to D* where the densities have mass."""
    rng = np.random.default_rng(0)
    g_std = 1.0
    disc, hist = gan_game.fit_discriminator(
        lambda n: P_DATA.sample(n, rng), lambda n: rng.normal(0, g_std, n), steps=400, progress=False
    )
    grid = np.linspace(-3, 3, 61)
    d_star = gan_game.optimal_discriminator(P_DATA.pdf(grid), stats.norm.pdf(grid, 0, g_std))
    assert np.max(np.abs(gan_game.discriminator_on_grid(disc, grid) - d_star)) < 0.15
    assert len(hist) == 400
