"""Tests for gancnn.gan.spectral against torch's spectral_norm and the SVD."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.parametrizations import spectral_norm

from gancnn.gan import spectral


def test_one_step_matches_torch_with_roles_swapped() -> None:
    """torch's step from its v on W equals eq. 4's step from u = v on W^T (same sigma, same normalised weight)."""
    torch.manual_seed(0)
    layer = spectral_norm(torch.nn.Conv2d(6, 10, 3)).double()
    param = layer.parametrizations.weight
    v0 = param[0]._v.clone()
    w_raw = param.original.detach().clone()
    layer.train()
    w_torch = layer.weight.detach()
    mat = w_raw.reshape(10, -1)
    sigma, _, _ = spectral.power_iteration(mat.T, v0, n_steps=1)
    torch.testing.assert_close(w_raw / sigma, w_torch, rtol=0, atol=1e-12)


def test_converges_to_exact_sigma_from_below() -> None:
    """Estimates increase towards sigma_1 and never exceed it."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(40, 30, generator=g, dtype=torch.float64)
    u = torch.randn(40, generator=g, dtype=torch.float64)
    exact = spectral.exact_sigma(w).item()
    estimates = [spectral.power_iteration(w, u, k)[0].item() for k in (1, 5, 50, 2000)]
    assert all(e <= exact + 1e-12 for e in estimates)
    assert all(a <= b + 1e-12 for a, b in zip(estimates, estimates[1:]))
    assert abs(estimates[-1] - exact) < 1e-10


def test_exact_sigma_and_normalize() -> None:
    """exact_sigma equals numpy's largest singular value; a converged normalised weight has norm 1."""
    g = torch.Generator().manual_seed(2)
    w = torch.randn(8, 3, 3, 3, generator=g, dtype=torch.float64)
    assert abs(spectral.exact_sigma(w).item() - np.linalg.svd(w.reshape(8, -1).numpy(), compute_uv=False)[0]) < 1e-12
    u = torch.randn(8, generator=g, dtype=torch.float64)
    normed = spectral.spectral_normalize(w, u, n_steps=500)
    assert abs(spectral.exact_sigma(normed).item() - 1) < 1e-8
    with pytest.raises(ValueError):
        spectral.power_iteration(w, torch.ones(3), 1)


def test_error_shrinks_by_sigma_ratio_to_the_fourth_per_step() -> None:
    """With sigma_i = 0.8^i, the estimate's relative error falls by (sigma_2 / sigma_1)^4 = 0.4096 per step.

    One step applies W W^T to u, and the estimate is the Rayleigh quotient ||W v||, so its error goes like
    (sigma_2 / sigma_1)^(4k): twice the exponent of the angle between u and the top singular vector.
    """
    g = torch.Generator().manual_seed(4)
    q1, _ = torch.linalg.qr(torch.randn(20, 10, generator=g, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
    w = q1 @ torch.diag(0.8 ** torch.arange(10, dtype=torch.float64)) @ q2.T
    u = torch.randn(20, generator=g, dtype=torch.float64)
    errors = torch.tensor([1 - spectral.power_iteration(w, u, k)[0].item() for k in range(10, 17)])
    assert (errors > 0).all()  # from below (sigma_1 = 1)
    ratios = errors[1:] / errors[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, 0.8**4), rtol=0.01)  # not 0.8^2 = 0.64
