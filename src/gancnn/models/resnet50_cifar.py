"""ResNet-50 for 32x32 images as written out in Stratos' notes: 3x3 stem, no max-pool, four bottleneck stacks.

Module names follow torchvision's ResNet (conv1/bn1/layer1..4, Bottleneck's conv1..3, bn1..3,
downsample) so that a torchvision `resnet50` with the same stem loads into it unchanged; the stride
of a stack sits on the 3x3 convolution of its first block, as in torchvision ("ResNet v1.5").
"""

from __future__ import annotations

import torch
from torch import nn

EXPANSION = 4
STACKS = ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2))  # (blocks B, bottleneck channels C', stride S')


class BottleneckBlock(nn.Module):
    """ResBlock^Res: 1x1 (C'), 3x3 stride S' (C'), 1x1 (4C'), each with BatchNorm; shortcut conv when shapes differ."""

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        """Build the block for an input with in_channels, bottleneck width C' and one-time stride S'."""
        super().__init__()
        out_channels = EXPANSION * width
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU(z3 + x') with z1..z3 the bottleneck and x' the (possibly projected) input."""
        z = self.relu(self.bn1(self.conv1(x)))
        z = self.relu(self.bn2(self.conv2(z)))
        z = self.bn3(self.conv3(z))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(z + shortcut)


def res_stack(in_channels: int, blocks: int, width: int, stride: int) -> nn.Sequential:
    """ResStack: a first block that may change shape, then B-1 shape-keeping blocks."""
    layers = [BottleneckBlock(in_channels, width, stride)]
    layers += [BottleneckBlock(EXPANSION * width, width, 1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50Cifar(nn.Module):
    """(N, 3, 32, 32) -> (N, 2048): stem, four residual stacks, global average pooling."""

    def __init__(self, stacks: tuple[tuple[int, int, int], ...] = STACKS) -> None:
        """Build the network; `stacks` lists (blocks, width, stride) per stage."""
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        channels = 64
        for index, (blocks, width, stride) in enumerate(stacks, start=1):
            setattr(self, f"layer{index}", res_stack(channels, blocks, width, stride))
            channels = EXPANSION * width
        self.n_stacks = len(stacks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The named stages in execution order (for shape walks)."""
        stem = nn.Sequential(self.conv1, self.bn1, self.relu)
        return (
            [("stem z", stem)]
            + [(f"stack z{i}", getattr(self, f"layer{i}")) for i in range(1, self.n_stacks + 1)]
            + [("avgpool y", self.avgpool)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the 2048-dimensional representation of each image."""
        for _, stage in self.stages():
            x = stage(x)
        return torch.flatten(x, 1)


def torchvision_counterpart() -> nn.Module:
    """torchvision's resnet50 (random weights) with the same 3x3 stem, no max-pool and no classifier."""
    from torchvision.models import resnet50

    net = resnet50(weights=None)
    net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net
