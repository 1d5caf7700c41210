"""Tests for gancnn.models.mhsa: attention over pixels from the definition vs nn.MultiheadAttention."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancnn.models import mhsa


@pytest.mark.parametrize("channels,heads", [(8, 1), (16, 4), (12, 3)])
def test_definition_equals_torch(channels: int, heads: int) -> None:
    """pixel_attention with nn.MultiheadAttention's weights gives the same output."""
    torch.manual_seed(0)
    layer = nn.MultiheadAttention(channels, heads, batch_first=True).double()
    x = torch.randn(2, channels, 4, 5, dtype=torch.float64)
    with torch.no_grad():
        mine = mhsa.pixel_attention(x, n_heads=heads, **mhsa.weights_from_torch(layer))
        ref = mhsa.torch_pixel_attention(layer, x)
    assert torch.allclose(mine, ref, atol=1e-12)


def test_rows_are_distributions_and_permutation_equivariance() -> None:
    """Attention rows sum to one; permuting pixels permutes the output."""
    torch.manual_seed(1)
    layer = mhsa.PixelSelfAttention(8, n_heads=2, head_dim=3).double()  # K*d != C is allowed by the definition
    x = torch.randn(1, 8, 3, 4, dtype=torch.float64)
    w_q, w_k, w_v = layer.qkv.weight.T.chunk(3, dim=1)
    b_q, b_k, b_v = layer.qkv.bias.chunk(3)
    with torch.no_grad():
        y, a = mhsa.pixel_attention(
            x, w_q, w_k, w_v, b_q, b_k, b_v, layer.out.weight.T, layer.out.bias, 2, return_weights=True
        )
        assert torch.allclose(y, layer(x))
        assert torch.allclose(a.sum(-1), torch.ones(1, 2, 12, dtype=torch.float64))
        perm = torch.randperm(12)
        y_perm = layer(x.flatten(2)[:, :, perm].reshape(x.shape))
    assert torch.allclose(y_perm.flatten(2), y.flatten(2)[:, :, perm], atol=1e-12)


def test_wrong_shapes_fail() -> None:
    """A projection that does not match the channels is rejected."""
    x = torch.randn(1, 4, 2, 2)
    w = torch.randn(5, 4)
    b = torch.zeros(4)
    with pytest.raises(ValueError):
        mhsa.pixel_attention(x, w, w, w, b, b, b, torch.randn(4, 4), b, 1)
