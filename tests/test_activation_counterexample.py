"""Every linear piece must pass through the origin: ReLU6 and hard-tanh are piecewise linear, pass through 0, and fail.

The dissertation's eq. 3.26 states sigma(x0) = x0 sigma'(x0) for *any* piecewise-linear activation; it holds for
ReLU and leaky ReLU and fails for activations with a constant piece, and with it the AdjointBackMap identity.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancnn.adjoint import backmap


def mlp(act: nn.Module) -> nn.Module:
    """A bias-free two-layer network in float64."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32, bias=False), act, nn.Linear(32, 4, bias=False)).double()


@pytest.mark.parametrize("act", [nn.ReLU(), nn.LeakyReLU(0.2)])
def test_pieces_through_the_origin_satisfy_euler(act: nn.Module) -> None:
    c = 10 * torch.randn(10_000, dtype=torch.float64)
    assert backmap.activation_euler_residual(act, c) <= 1e-12
    x = 10 * torch.randn(64, 8, dtype=torch.float64)
    assert backmap.network_euler_residual(mlp(act), x) <= 1e-12


@pytest.mark.parametrize("act", [nn.ReLU6(), nn.Hardtanh()])
def test_constant_pieces_break_euler_and_the_identity(act: nn.Module) -> None:
    assert float(act(torch.zeros(1, dtype=torch.float64))) == 0.0  # it passes through the origin
    c = 10 * torch.randn(10_000, dtype=torch.float64)
    assert backmap.activation_euler_residual(act, c) >= 0.9  # sigma = 6 or +-1 where sigma' = 0
    x = 10 * torch.randn(64, 8, dtype=torch.float64)
    assert backmap.network_euler_residual(mlp(act), x) > 1e-2
    with pytest.raises(backmap.UnsupportedModelError):
        backmap.check_model(mlp(act), version=1)
