"""Conditional SAGAN at 32x32: spectral normalisation on every weight, self-attention in G and D.

Generator: [z, one-hot(c)] (nz + n_classes) -> dense -> 4x4x(4 ngf) -> up to 8x8 -> up to 16x16
-> self-attention (16x16) -> up to 32x32x3 -> tanh. Discriminator (the source's table): conv to 16x16x(ndf),
8x8x(2 ndf), self-attention (8x8), 4x4x(4 ndf), 4x4x(8 ndf), flatten, then the label enters in one of two ways:
`conditioning="concat"` (the source's table: concatenate one-hot(c), dense -> one score) or
`conditioning="projection"` (Miyato and Koyama 2018: dense(h) + <embed(c), h>). With concat the label only adds a
per-class constant v_c to the score, which cancels in every loss whose real and fake terms share the labels.
Spectral normalisation uses `torch.nn.utils.parametrizations.spectral_norm`; D has no batch norm
(the gradient penalty is defined per sample). The attention layer is `gancnn.models.selfattention.SelfAttention2d`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gancnn.models.selfattention import SelfAttention2d

CONDITIONINGS = ("concat", "projection")


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    """A spectrally normalised transposed convolution doubling the resolution, batch norm, leaky ReLU."""
    return [
        spectral_norm(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.2),
    ]


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Return float one-hot rows for integer labels, failing on labels out of range."""
    if labels.dim() != 1:
        raise ValueError(f"labels must be a vector, got shape {tuple(labels.shape)}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    return F.one_hot(labels.long(), n_classes).float()


class SAGANGenerator(nn.Module):
    """Map noise (B, nz) and labels (B,) to images (B, 3, 32, 32); `forward(..., return_attention=True)` adds maps."""

    def __init__(self, nz: int = 100, n_classes: int = 10, ngf: int = 64, channels: int = 3) -> None:
        """Build dense -> 4x4 -> 8x8 -> 16x16 -> attention -> 32x32, all weights spectrally normalised."""
        super().__init__()
        self.nz, self.n_classes, self.ngf = nz, n_classes, ngf
        self.dense = nn.Sequential(
            spectral_norm(nn.Linear(nz + n_classes, 4 * 4 * 4 * ngf, bias=False)),
            nn.BatchNorm1d(4 * 4 * 4 * ngf),
            nn.LeakyReLU(0.2),
        )
        self.up = nn.Sequential(*_up(4 * ngf, 2 * ngf), *_up(2 * ngf, ngf))
        self.attention = SelfAttention2d(ngf, spectral=True)
        self.out = nn.Sequential(spectral_norm(nn.ConvTranspose2d(ngf, channels, 4, 2, 1)), nn.Tanh())

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Return images (and the (B, 256, 256) attention map of the 16x16 layer when asked)."""
        if z.dim() != 2 or z.shape[1] != self.nz or labels.shape != (z.shape[0],):
            raise ValueError(f"expected z (B, {self.nz}) and labels (B,), got {tuple(z.shape)}, {tuple(labels.shape)}")
        h = self.dense(torch.cat([z, one_hot(labels, self.n_classes)], dim=1)).view(-1, 4 * self.ngf, 4, 4)
        h, beta = self.attention(self.up(h), return_attention=True)
        x = self.out(h)
        return (x, beta) if return_attention else x


class SAGANDiscriminator(nn.Module):
    """Map images (B, 3, 32, 32) and labels (B,) to one critic score each; no batch norm."""

    def __init__(self, n_classes: int = 10, ndf: int = 64, channels: int = 3, conditioning: str = "concat") -> None:
        """Build 32 -> 16 -> 8 -> attention -> 4 -> 4 -> flatten -> [one-hot] dense (+ projection)."""
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        self.n_classes, self.conditioning = n_classes, conditioning
        self.down = nn.Sequential(
            spectral_norm(nn.Conv2d(channels, ndf, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(ndf, 2 * ndf, 4, 2, 1)),
            nn.LeakyReLU(0.2),
        )
        self.attention = SelfAttention2d(2 * ndf, spectral=True)
        self.tail = nn.Sequential(
            spectral_norm(nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(4 * ndf, 8 * ndf, 3, 1, 1)),
            nn.LeakyReLU(0.2),
        )
        n_features = 8 * ndf * 4 * 4
        if conditioning == "concat":
            self.head = spectral_norm(nn.Linear(n_features + n_classes, 1))
        else:
            self.head = spectral_norm(nn.Linear(n_features, 1))
            self.embed = spectral_norm(nn.Embedding(n_classes, n_features))

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Return scores of shape (B,) (and the (B, 64, 64) attention map of the 8x8 layer when asked)."""
        h, beta = self.attention(self.down(x), return_attention=True)
        h = self.tail(h).flatten(1)
        if self.conditioning == "concat":
            score = self.head(torch.cat([h, one_hot(labels, self.n_classes)], dim=1)).squeeze(1)
        else:
            one_hot(labels, self.n_classes)  # the same range check as concat
            score = self.head(h).squeeze(1) + (self.embed(labels.long()) * h).sum(1)
        return (score, beta) if return_attention else score
