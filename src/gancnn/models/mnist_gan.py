"""A fully connected MNIST GAN: 5-layer generator (leaky ReLU, batch norm) from 100-d noise, MLP critic."""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SHAPE = (1, 28, 28)
NOISE_DIM = 100


class Generator(nn.Module):
    """z (B, noise_dim) -> image (B, 1, 28, 28) in [-1, 1] through five linear layers."""

    def __init__(self, noise_dim: int = NOISE_DIM, widths: tuple[int, ...] = (128, 256, 512, 1024)) -> None:
        """Build Linear-[BatchNorm]-LeakyReLU blocks (no batch norm on the first) and a Tanh output layer."""
        super().__init__()
        layers: list[nn.Module] = []
        fan_in = noise_dim
        for i, width in enumerate(widths):
            layers.append(nn.Linear(fan_in, width))
            if i > 0:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.LeakyReLU(0.2))
            fan_in = width
        layers += [nn.Linear(fan_in, int(torch.tensor(IMAGE_SHAPE).prod())), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.noise_dim = noise_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map noise to images."""
        return self.net(z).view(z.shape[0], *IMAGE_SHAPE)

    def linears(self) -> list[nn.Linear]:
        """The five linear layers, input to output (targets of the weight experiment)."""
        return [m for m in self.net if isinstance(m, nn.Linear)]


class Discriminator(nn.Module):
    """image (B, 1, 28, 28) -> logit (B,) through fully connected layers with leaky ReLU."""

    def __init__(self, widths: tuple[int, ...] = (512, 256, 128)) -> None:
        """Build Linear-LeakyReLU blocks and a final linear logit."""
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = int(torch.tensor(IMAGE_SHAPE).prod())
        for width in widths:
            layers += [nn.Linear(fan_in, width), nn.LeakyReLU(0.2)]
            fan_in = width
        layers.append(nn.Linear(fan_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return one real/fake logit per image."""
        return self.net(x).squeeze(1)
