"""Self-attention over the pixels of a feature map, as in SAGAN and BigGAN.

For an input x with C channels and N = H*W positions, 1x1 convolutions give
theta (C/r channels), phi (C/r) and g (C/2, or ``value_channels``); with ``pool=True`` phi and g are 2x2 max-pooled
(BigGAN), so keys and values live on P = N/4 positions, otherwise P = N (SAGAN).
The attention map is beta = softmax_rows(theta^T phi) in R^{N x P}, the attended values are
g beta^T, a last 1x1 convolution o maps them back to C channels, and the block returns
x + gamma * o(g beta^T) with a learned scalar gamma that starts at 0 (so a fresh block is the identity).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _conv1x1(c_in: int, c_out: int, spectral: bool, bias: bool = False) -> nn.Conv2d:
    """A 1x1 convolution (bias-free unless asked), spectrally normalised when asked."""
    conv = nn.Conv2d(c_in, c_out, kernel_size=1, bias=bias)
    return spectral_norm(conv) if spectral else conv


class SelfAttention2d(nn.Module):
    """SAGAN/BigGAN self-attention block: x + gamma * o(g softmax(theta^T phi)^T), gamma initialised at 0."""

    def __init__(
        self,
        channels: int,
        reduction: int = 8,
        pool: bool = False,
        spectral: bool = False,
        value_channels: int | None = None,
        bias: bool = False,
    ) -> None:
        """Build theta, phi (channels // reduction), g (value_channels, default channels // 2) and o (back to
        channels); the four 1x1 convolutions carry biases only when `bias` (BigGAN's layout has none)."""
        super().__init__()
        if channels < 2 or reduction < 1 or channels % reduction or channels % 2:
            raise ValueError(f"channels ({channels}) must be even and divisible by reduction ({reduction})")
        if value_channels is not None and value_channels < 1:
            raise ValueError(f"value_channels must be positive, got {value_channels}")
        self.channels, self.reduction, self.pool = channels, reduction, pool
        self.key_channels = channels // reduction
        self.value_channels = channels // 2 if value_channels is None else value_channels
        self.theta = _conv1x1(channels, self.key_channels, spectral, bias)
        self.phi = _conv1x1(channels, self.key_channels, spectral, bias)
        self.g = _conv1x1(channels, self.value_channels, spectral, bias)
        self.o = _conv1x1(self.value_channels, channels, spectral, bias)
        self.pool_phi = nn.MaxPool2d(2) if pool else nn.Identity()
        self.pool_g = nn.MaxPool2d(2) if pool else nn.Identity()
        self.softmax = nn.Softmax(dim=-1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def _keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return phi(x) and g(x), 2x2 max-pooled when pool=True, as (B, C', P) matrices."""
        return self.pool_phi(self.phi(x)).flatten(2), self.pool_g(self.g(x)).flatten(2)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Return the attention map beta in R^{B x N x P}; each row (a query position) sums to 1."""
        theta = self.theta(x).flatten(2)  # (B, C/r, N)
        phi, _ = self._keys_values(x)  # (B, C/r, P)
        return self.softmax(theta.transpose(1, 2) @ phi)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Return x + gamma * o(attended values), and the (B, N, P) attention map if return_attention."""
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected (B, {self.channels}, H, W), got {tuple(x.shape)}")
        b, _, h, w = x.shape
        if self.pool and (h % 2 or w % 2):
            raise ValueError(f"pool=True needs even height and width, got {h}x{w}")
        theta = self.theta(x).flatten(2)  # (B, C/r, N)
        phi, g = self._keys_values(x)  # (B, C/r, P), (B, C/2, P)
        beta = self.softmax(theta.transpose(1, 2) @ phi)  # (B, N, P)
        attended = (g @ beta.transpose(1, 2)).view(b, self.value_channels, h, w)
        out = x + self.gamma * self.o(attended)
        return (out, beta) if return_attention else out
