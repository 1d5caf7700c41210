"""Tests of gancnn.gmm.noise: each sampler has the moments it claims."""

import pytest
import torch

from gancnn.gmm import noise


@pytest.mark.parametrize(
    "name,mean,var", [("U(-1,1)", 0.0, 1 / 3), ("Bernoulli{0,1}", 0.5, 0.25), ("N(0,I)", 0.0, 1.0)]
)
def test_z_moments(name, mean, var):
    z = noise.Z_NOISES[name](100_000, 4, torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.full((4,), mean), atol=0.01)
    assert torch.allclose(z.var(0), torch.full((4,), var), atol=0.01)


def test_support():
    g = torch.Generator().manual_seed(1)
    assert set(noise.bernoulli(1000, 3, g).unique().tolist()) == {0.0, 1.0}
    assert set(noise.rademacher(1000, 3, g).unique().tolist()) == {-1.0, 1.0}
    u = noise.uniform(1000, 3, g)
    assert u.min() >= -1 and u.max() <= 1


@pytest.mark.parametrize("rho", [0.0, 0.5, 1.0])
def test_equicorrelated_covariance(rho):
    d = 5
    z = noise.equicorrelated(rho)(200_000, d, torch.Generator().manual_seed(2))
    closed_form = torch.full((d, d), rho) + (1 - rho) * torch.eye(d)  # unit variances, correlation rho
    assert torch.equal(noise.equicorrelated_cov(rho, d), closed_form)
    assert (torch.cov(z.T) - closed_form).abs().max() < 0.02


def test_rho_one_is_rank_one():
    z = noise.equicorrelated(1.0)(10, 6, torch.Generator().manual_seed(3))
    assert torch.allclose(z, z[:, :1].expand(-1, 6))
    assert torch.linalg.matrix_rank(noise.equicorrelated_cov(1.0, 6)) == 1


def test_bad_inputs():
    with pytest.raises(ValueError):
        noise.equicorrelated(1.5)
    with pytest.raises(KeyError):
        noise.get("cauchy", noise.Z_NOISES)


def test_cauchy_has_the_standard_quartiles_and_heavy_tails():
    """Standard Cauchy: median 0, quartiles -1 and +1, P(|z| > 10) = 1 - 2 arctan(10) / pi (about 6.3%)."""
    z = noise.Z_NOISES["Cauchy"](200_000, 1, torch.Generator().manual_seed(3)).squeeze(1)
    q = torch.quantile(z[:100_000], torch.tensor([0.25, 0.5, 0.75]))
    assert torch.allclose(q, torch.tensor([-1.0, 0.0, 1.0]), atol=0.02)
    tail = float((z.abs() > 10).float().mean())
    assert tail == pytest.approx(1 - 2 * torch.atan(torch.tensor(10.0)).item() / torch.pi, abs=0.002)
