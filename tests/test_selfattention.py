"""Tests for gancnn.models.selfattention.SelfAttention2d."""

from __future__ import annotations

import pytest
import torch

from gancnn.models.selfattention import SelfAttention2d


@pytest.mark.parametrize("pool", [False, True])
def test_shapes(pool: bool) -> None:
    """Output keeps the input shape; the map is (B, H*W, H*W or H*W/4)."""
    torch.manual_seed(0)
    block = SelfAttention2d(32, pool=pool)
    x = torch.randn(3, 32, 8, 6)
    out, beta = block(x, return_attention=True)
    assert out.shape == x.shape
    assert beta.shape == (3, 48, 12 if pool else 48)


@pytest.mark.parametrize("pool", [False, True])
def test_gamma_zero_is_identity(pool: bool) -> None:
    """A fresh block (gamma = 0) returns its input exactly."""
    block = SelfAttention2d(16, pool=pool)
    assert block.gamma.item() == 0.0
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(block(x), x)


def test_rows_sum_to_one() -> None:
    """Each query position's attention weights are a probability vector."""
    block = SelfAttention2d(16, reduction=4, pool=True)
    beta = block.attention(torch.randn(2, 16, 6, 6))
    assert torch.all(beta >= 0)
    torch.testing.assert_close(beta.sum(-1), torch.ones(2, 36))


def test_matches_loop_over_positions() -> None:
    """The batched formula equals an explicit sum over key positions for every query pixel."""
    torch.manual_seed(1)
    block = SelfAttention2d(8, reduction=2, pool=True).double()
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(1, 8, 4, 4, dtype=torch.double)
    with torch.no_grad():
        out = block(x)
        theta = block.theta(x)[0].flatten(1)  # (C/r, N)
        phi = torch.nn.functional.max_pool2d(block.phi(x), 2)[0].flatten(1)  # (C/r, P)
        g = torch.nn.functional.max_pool2d(block.g(x), 2)[0].flatten(1)  # (C/2, P)
        attended = torch.zeros(4, 16, dtype=torch.double)
        for i in range(16):
            scores = torch.stack([theta[:, i] @ phi[:, j] for j in range(4)])
            weights = torch.exp(scores - scores.max())
            weights = weights / weights.sum()
            attended[:, i] = sum(weights[j] * g[:, j] for j in range(4))
        expected = x + 0.7 * block.o(attended.view(1, 4, 4, 4))
    torch.testing.assert_close(out, expected)


def test_spectral_norm_and_bad_input() -> None:
    """spectral=True registers torch's parametrization; wrong shapes fail with a message."""
    block = SelfAttention2d(16, spectral=True, pool=True)
    assert hasattr(block.theta, "parametrizations")
    with pytest.raises(ValueError):
        block(torch.randn(1, 8, 4, 4))
    with pytest.raises(ValueError):
        block(torch.randn(1, 16, 5, 5))
    with pytest.raises(ValueError):
        SelfAttention2d(12, reduction=8)


def test_parameter_counts_of_the_two_layouts() -> None:
    """BigGAN's bias-free layout (C/8 keys, C/2 values) keeps its count and state-dict keys; with C-channel values
    and biases the same class has 2 (C C/8 + C/8) + 2 (C^2 + C) + 1 parameters (37,153 at C = 128)."""
    c = 128
    biggan = SelfAttention2d(c)
    assert sum(p.numel() for p in biggan.parameters()) == 2 * c * (c // 8) + 2 * c * (c // 2) + 1
    assert sorted(biggan.state_dict()) == ["g.weight", "gamma", "o.weight", "phi.weight", "theta.weight"]
    full = SelfAttention2d(c, value_channels=c, bias=True)
    assert sum(p.numel() for p in full.parameters()) == 2 * (c * c // 8 + c // 8) + 2 * (c * c + c) + 1 == 37_153
    x = torch.randn(2, c, 4, 4)
    with torch.no_grad():
        full.gamma.fill_(0.5)
        out, beta = full(x, return_attention=True)
        g = full.g(x).flatten(2)  # (B, C, N): values with biases
        expected = x + 0.5 * full.o((g @ beta.transpose(1, 2)).view(2, c, 4, 4))
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match="value_channels"):
        SelfAttention2d(16, value_channels=0)
