"""Colourization networks of the CSC413 coursework: grey 32x32 image in, per-pixel colour-class logits out.

All three share five blocks (NF filters, 2NF in the middle, NC colour classes at the end):
`PoolUpsampleNet` halves with max-pooling and doubles with nearest-neighbour upsampling;
`ConvTransposeNet` halves with stride-2 convolutions and doubles with stride-2 transposed
convolutions; `UNet` is ConvTransposeNet with two skip connections (concatenations).
"""

from __future__ import annotations

import torch
from torch import nn


def _same_padding(kernel: int) -> int:
    """Padding that keeps the spatial size of a stride-1 convolution with an odd kernel."""
    if kernel % 2 != 1:
        raise ValueError(f"kernel must be odd, got {kernel}")
    return kernel // 2


class PoolUpsampleNet(nn.Module):
    """conv-maxpool-BN-ReLU twice, conv-upsample-BN-ReLU twice, then a final conv to NC logits."""

    def __init__(self, kernel: int = 3, num_filters: int = 32, num_colours: int = 24, num_in_channels: int = 1) -> None:
        """Build the five blocks."""
        super().__init__()
        p = _same_padding(kernel)
        nf, nc = num_filters, num_colours

        def down(cin: int, cout: int) -> nn.Sequential:
            """Convolution, 2x2 max-pool, batch norm, ReLU."""
            return nn.Sequential(
                nn.Conv2d(cin, cout, kernel, padding=p), nn.MaxPool2d(2), nn.BatchNorm2d(cout), nn.ReLU()
            )

        def up(cin: int, cout: int) -> nn.Sequential:
            """Convolution, 2x nearest upsampling, batch norm, ReLU."""
            return nn.Sequential(
                nn.Conv2d(cin, cout, kernel, padding=p), nn.Upsample(scale_factor=2), nn.BatchNorm2d(cout), nn.ReLU()
            )

        self.blocks = nn.Sequential(
            down(num_in_channels, nf),
            down(nf, 2 * nf),
            up(2 * nf, nf),
            up(nf, nc),
            nn.Conv2d(nc, nc, kernel, padding=p),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, NIC, H, W) grey images to (N, NC, H, W) logits."""
        return self.blocks(x)


def _strided_blocks(kernel: int, nin: int, nf: int, nc: int, skip_in: tuple[int, int] = (0, 0)) -> nn.ModuleList:
    """The five blocks of ConvTransposeNet; `skip_in` adds input channels to blocks 4 and 5 (U-Net)."""
    p = _same_padding(kernel)

    def down(cin: int, cout: int) -> nn.Sequential:
        """Stride-2 convolution (halves H, W), batch norm, ReLU."""
        return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride=2, padding=p), nn.BatchNorm2d(cout), nn.ReLU())

    def up(cin: int, cout: int) -> nn.Sequential:
        """Stride-2 transposed convolution (doubles H, W), batch norm, ReLU."""
        return nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel, stride=2, padding=p, output_padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )

    return nn.ModuleList(
        [
            down(nin, nf),
            down(nf, 2 * nf),
            up(2 * nf, nf),
            up(nf + skip_in[0], nc),
            nn.Conv2d(nc + skip_in[1], nc, kernel, padding=p),
        ]
    )


class ConvTransposeNet(nn.Module):
    """Stride-2 convolutions down, stride-2 transposed convolutions up, final conv to NC logits."""

    def __init__(self, kernel: int = 3, num_filters: int = 32, num_colours: int = 24, num_in_channels: int = 1) -> None:
        """Build the five blocks."""
        super().__init__()
        self.blocks = _strided_blocks(kernel, num_in_channels, num_filters, num_colours)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, NIC, H, W) grey images to (N, NC, H, W) logits."""
        for block in self.blocks:
            x = block(x)
        return x


class UNet(nn.Module):
    """ConvTransposeNet with skips: block 4 also sees block 1's output, block 5 also sees the input."""

    def __init__(self, kernel: int = 3, num_filters: int = 32, num_colours: int = 24, num_in_channels: int = 1) -> None:
        """Build the five blocks with widened inputs for the two concatenations."""
        super().__init__()
        self.blocks = _strided_blocks(
            kernel, num_in_channels, num_filters, num_colours, skip_in=(num_filters, num_in_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, NIC, H, W) grey images to (N, NC, H, W) logits."""
        b1, b2, b3, b4, b5 = self.blocks
        h1 = b1(x)
        h3 = b3(b2(h1))
        h4 = b4(torch.cat([h3, h1], dim=1))
        return b5(torch.cat([h4, x], dim=1))


ARCHITECTURES: dict[str, type[nn.Module]] = {
    "PoolUpsampleNet": PoolUpsampleNet,
    "ConvTransposeNet": ConvTransposeNet,
    "UNet": UNet,
}


def build(name: str, **kwargs: int) -> nn.Module:
    """Instantiate a colourization network by name (one of ARCHITECTURES)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown colourization network {name!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](**kwargs)


def conv_weight_count(kernel: int, num_filters: int, num_colours: int, num_in_channels: int = 1) -> int:
    """Closed-form number of convolution weights (no biases, no BN) shared by PoolUpsampleNet and ConvTransposeNet."""
    k2, nf, nc, nic = kernel * kernel, num_filters, num_colours, num_in_channels
    return k2 * (nic * nf + nf * 2 * nf + 2 * nf * nf + nf * nc + nc * nc)
