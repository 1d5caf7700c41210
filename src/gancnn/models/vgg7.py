"""VGG7 for 32x32 images: six 3x3 convolutions, two 3x3/2 average pools, global pooling, one FC layer.

`VGG7(batchnorm=False)` is the bias-free network of the AdjointBackMap chapter (source table A.1);
`VGG7(batchnorm=True)` puts a batch-norm layer after every convolution (table B.1), whose shift is
the network's only bias. Neither has a bias in the FC layer, as in the source tables.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

WIDTHS = (32, 32, 64, 64, 96, 96)


class VGG7(nn.Module):
    """conv0..conv5 (each followed by optional BN and ReLU), avg-pools after conv1 and conv3, GAP, FC."""

    def __init__(self, num_classes: int = 10, batchnorm: bool = False, in_channels: int = 3) -> None:
        """Build the layers; convolutions never carry their own bias."""
        super().__init__()
        self.batchnorm = batchnorm
        layers: list[tuple[str, nn.Module]] = []
        c_in = in_channels
        for i, c_out in enumerate(WIDTHS):
            layers.append((f"conv{i}", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)))
            if batchnorm:
                layers.append((f"bn{i}", nn.BatchNorm2d(c_out, eps=1e-3)))
            layers.append((f"relu{i}", nn.ReLU()))
            if i in (1, 3):
                layers.append((f"pool{i}", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)))
            c_in = c_out
        layers += [("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
        self.features = nn.Sequential(OrderedDict(layers))
        self.fc = nn.Linear(c_in, num_classes, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the class scores (no final activation)."""
        return self.fc(self.features(x))

    def conv_bn_pairs(self) -> list[tuple[str, str]]:
        """Names of (convolution, batch norm) pairs that BN folding merges."""
        if not self.batchnorm:
            return []
        return [(f"features.conv{i}", f"features.bn{i}") for i in range(len(WIDTHS))]

    def conv_multiplier_pairs(self) -> list[tuple[str, str]]:
        """VGG7 has no Fixup multipliers."""
        return []
