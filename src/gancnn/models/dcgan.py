"""DCGAN at 32x32: a dense layer and transposed convolutions up (G), strided convolutions down (D).

Generator: z (nz) -> dense -> 4x4x(4 ngf) -> [ConvTranspose 4/2/1, BatchNorm, LeakyReLU] x2 -> 16x16x(ngf)
-> ConvTranspose 4/2/1 -> 32x32x3 -> tanh. Discriminator: [Conv 4/2/1, LeakyReLU] x3 (32 -> 4),
flatten, dense -> one logit. Batch norm sits in G only, as in the source's network.
"""

from __future__ import annotations

import torch
from torch import nn


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    """A transposed convolution that doubles the resolution, then batch norm and leaky ReLU."""
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


class DCGANGenerator(nn.Module):
    """Map noise (B, nz) to images (B, 3, 32, 32) in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, channels: int = 3) -> None:
        """Build dense -> 4x4 -> 8x8 -> 16x16 -> 32x32."""
        super().__init__()
        self.nz, self.ngf = nz, ngf
        self.dense = nn.Sequential(
            nn.Linear(nz, 4 * 4 * 4 * ngf, bias=False), nn.BatchNorm1d(4 * 4 * 4 * ngf), nn.LeakyReLU(0.2)
        )
        self.body = nn.Sequential(
            *_up(4 * ngf, 2 * ngf), *_up(2 * ngf, ngf), nn.ConvTranspose2d(ngf, channels, 4, 2, 1), nn.Tanh()
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return generated images for a batch of noise vectors."""
        if z.dim() != 2 or z.shape[1] != self.nz:
            raise ValueError(f"expected noise of shape (B, {self.nz}), got {tuple(z.shape)}")
        return self.body(self.dense(z).view(-1, 4 * self.ngf, 4, 4))


class DCGANDiscriminator(nn.Module):
    """Map images (B, 3, 32, 32) to one real/fake logit each."""

    def __init__(self, ndf: int = 64, channels: int = 3) -> None:
        """Build 32x32 -> 16x16 -> 8x8 -> 4x4 -> dense."""
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1),
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(4 * ndf * 4 * 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape (B,)."""
        return self.head(self.features(x).flatten(1)).squeeze(1)
