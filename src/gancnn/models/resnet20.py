"""ResNet20 for 32x32 images (widths 32/64/96, nine basic blocks) in the three variants of the source.

* `FixupResNet20(bias=False)`: the bias-free Fixup network of the AdjointBackMap chapter (table A.2):
  no batch norm, no bias anywhere, one scalar multiplier after the second conv of every block.
* `FixupResNet20(bias=True)`: ResNet20-Fixup of table B.5, which adds the 37 scalar biases of Fixup
  (one after the stem, four per block) to the multipliers.
* `ResNet20BN`: ResNet20 with batch norm after every conv and leaky ReLU (slope 0.2), table B.4.

Down-sampling shortcuts are parameter-free ("option A"): keep every other pixel (an average pool of
window 1 and stride 2) and pad the new channels with zeros. No FC layer carries a bias (as in the tables).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

STAGES = ((32, 1), (64, 2), (96, 2))  # (width, stride of the first block)
BLOCKS_PER_STAGE = 3
LEAKY_SLOPE = 0.2  # TensorFlow's default leaky-ReLU slope, used by the source


class ScalarBias(nn.Module):
    """Add one learnable scalar (a Fixup bias)."""

    def __init__(self) -> None:
        """Start at zero, as Fixup does."""
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return x + b."""
        return x + self.bias


class Multiplier(nn.Module):
    """Multiply by one learnable scalar (the Fixup multiplier)."""

    def __init__(self) -> None:
        """Start at one, as Fixup does."""
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return M x."""
        return x * self.scale


class ShortcutA(nn.Module):
    """Parameter-free shortcut: subsample by `stride` and zero-pad the channels up to `c_out`."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        """Remember the sizes."""
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Subsample, then pad channels with zeros (identity when nothing changes)."""
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.c_out > self.c_in:
            x = F.pad(x, (0, 0, 0, 0, 0, self.c_out - self.c_in))
        return x


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    """A 3x3 'same' convolution without bias."""
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def _bias_or_identity(bias: bool) -> nn.Module:
    """A scalar bias when asked for, else the identity."""
    return ScalarBias() if bias else nn.Identity()


class FixupBlock(nn.Module):
    """relu(M * conv2(relu(conv1(x + b1) + b2) + b3) + b4 + shortcut(x)); the b's exist only with bias=True."""

    def __init__(self, c_in: int, c_out: int, stride: int, bias: bool) -> None:
        """Build the two convolutions, the multiplier and (optionally) the four scalar biases."""
        super().__init__()
        self.bias1a, self.bias1b = _bias_or_identity(bias), _bias_or_identity(bias)
        self.bias2a, self.bias2b = _bias_or_identity(bias), _bias_or_identity(bias)
        self.conv1 = _conv(c_in, c_out, stride)
        self.relu1 = nn.ReLU()
        self.conv2 = _conv(c_out, c_out)
        self.mult = Multiplier()
        self.shortcut = ShortcutA(c_in, c_out, stride)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual branch plus shortcut, then ReLU."""
        out = self.relu1(self.bias1b(self.conv1(self.bias1a(x))))
        out = self.bias2b(self.mult(self.conv2(self.bias2a(out))))
        return self.relu2(out + self.shortcut(x))


class BNBlock(nn.Module):
    """lrelu(bn2(conv2(lrelu(bn1(conv1 x)))) + shortcut(x))."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        """Build conv-BN-leaky-ReLU twice and the shortcut."""
        super().__init__()
        self.conv1, self.bn1 = _conv(c_in, c_out, stride), nn.BatchNorm2d(c_out, eps=1e-3)
        self.act1 = nn.LeakyReLU(LEAKY_SLOPE)
        self.conv2, self.bn2 = _conv(c_out, c_out), nn.BatchNorm2d(c_out, eps=1e-3)
        self.shortcut = ShortcutA(c_in, c_out, stride)
        self.act2 = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual branch plus shortcut, then leaky ReLU."""
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class _ResNet20(nn.Module):
    """Stem, nine blocks, global average pooling, FC without bias."""

    def __init__(self, stem: nn.Sequential, blocks: list[nn.Module], num_classes: int) -> None:
        """Assemble the parts in forward order (the order of `named_modules`)."""
        super().__init__()
        self.stem = stem
        self.blocks = nn.Sequential(*blocks)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(STAGES[-1][0], num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the class scores (no final activation)."""
        return self.fc(self.flatten(self.gap(self.blocks(self.stem(x)))))


def _block_specs() -> list[tuple[int, int, int]]:
    """(c_in, c_out, stride) of the nine blocks."""
    specs, c_in = [], STAGES[0][0]
    for width, stride in STAGES:
        for b in range(BLOCKS_PER_STAGE):
            specs.append((c_in, width, stride if b == 0 else 1))
            c_in = width
    return specs


class FixupResNet20(_ResNet20):
    """ResNet20 with Fixup initialisation and multipliers; scalar biases only when bias=True."""

    def __init__(self, num_classes: int = 10, bias: bool = False) -> None:
        """Build the network and apply the Fixup initialisation (branch-final convs and FC at zero)."""
        stem = nn.Sequential()
        stem.add_module("conv", _conv(3, STAGES[0][0]))
        stem.add_module("bias", _bias_or_identity(bias))
        stem.add_module("relu", nn.ReLU())
        blocks = [FixupBlock(c_in, c_out, s, bias) for c_in, c_out, s in _block_specs()]
        super().__init__(stem, blocks, num_classes)
        self.has_bias = bias
        n_blocks = len(blocks)
        nn.init.kaiming_normal_(self.stem.conv.weight, nonlinearity="relu")
        for block in self.blocks:
            nn.init.kaiming_normal_(block.conv1.weight, nonlinearity="relu")
            block.conv1.weight.data.mul_(n_blocks ** (-0.5))  # L^(-1/(2m-2)) with m = 2 layers per branch
            nn.init.zeros_(block.conv2.weight)
        nn.init.zeros_(self.fc.weight)

    def conv_bn_pairs(self) -> list[tuple[str, str]]:
        """No batch norm in a Fixup network."""
        return []

    def conv_multiplier_pairs(self) -> list[tuple[str, str]]:
        """(conv2, multiplier) of every block: the multiplier can be folded into the conv weight."""
        return [(f"blocks.{i}.conv2", f"blocks.{i}.mult") for i in range(len(self.blocks))]


class ResNet20BN(_ResNet20):
    """ResNet20 with batch norm after every conv and leaky ReLU activations."""

    def __init__(self, num_classes: int = 10) -> None:
        """Build the network with Kaiming initialisation for leaky ReLU."""
        stem = nn.Sequential()
        stem.add_module("conv", _conv(3, STAGES[0][0]))
        stem.add_module("bn", nn.BatchNorm2d(STAGES[0][0], eps=1e-3))
        stem.add_module("act", nn.LeakyReLU(LEAKY_SLOPE))
        blocks = [BNBlock(c_in, c_out, s) for c_in, c_out, s in _block_specs()]
        super().__init__(stem, blocks, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu")
        nn.init.normal_(self.fc.weight, std=1.0 / math.sqrt(STAGES[-1][0]))

    def conv_bn_pairs(self) -> list[tuple[str, str]]:
        """(conv, BN) pairs of the stem and of both convs of every block."""
        pairs = [("stem.conv", "stem.bn")]
        for i in range(len(self.blocks)):
            pairs += [(f"blocks.{i}.conv1", f"blocks.{i}.bn1"), (f"blocks.{i}.conv2", f"blocks.{i}.bn2")]
        return pairs

    def conv_multiplier_pairs(self) -> list[tuple[str, str]]:
        """No multipliers."""
        return []
