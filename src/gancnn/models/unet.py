"""The U-Net of Stratos' notes (after labml.ai's DDPM U-Net) for 3x32x32 images and a context vector u.

Descend produces twelve intermediate images z1..z12 (convolutions that halve the resolution,
interleaved with residual blocks, self-attention at the two lowest resolutions); Ascend walks back
up, concatenating each y with the matching z, and uses transposed convolutions (F=4, S=2, P=1) to
double the resolution. `walk` returns every named intermediate image, so shape tables come from
running the modules.
"""

from __future__ import annotations

import torch
from torch import nn

from gancnn.models.mhsa import PixelSelfAttention

CHANNELS = (64, 128, 256, 1024)  # channels at resolutions 32, 16, 8, 4
ATTENTION = (False, False, True, True)
CONTEXT_DIM = 256
GROUPS = 32


class ResBlockU(nn.Module):
    """ResBlock^U: GroupNorm-swish-conv, add the projected context, GroupNorm-swish-dropout-conv, plus shortcut."""

    def __init__(
        self, in_channels: int, out_channels: int, context_dim: int = CONTEXT_DIM, dropout: float = 0.1
    ) -> None:
        """Build a block mapping in_channels to out_channels."""
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.context = nn.Linear(context_dim, out_channels)
        self.norm2 = nn.GroupNorm(GROUPS, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)
        self.act = nn.SiLU()  # swish(x) = x sigmoid(x)

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """y = z3 + x' (see the module docstring)."""
        z = self.conv1(self.act(self.norm1(x)))
        z = z + self.context(self.act(u))[:, :, None, None]
        z = self.conv2(self.dropout(self.act(self.norm2(z))))
        return z + self.shortcut(x)


class AttnBlock(nn.Module):
    """Self-attention over pixels with a residual connection (labml.ai adds x back; shapes are unchanged)."""

    def __init__(self, channels: int, n_heads: int = 1) -> None:
        """One head of dimension C, as in labml.ai's U-Net."""
        super().__init__()
        self.attn = PixelSelfAttention(channels, n_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + Attn(x)."""
        return x + self.attn(x)


class Step(nn.Module):
    """A residual block, optionally followed by attention."""

    def __init__(self, in_channels: int, out_channels: int, attention: bool) -> None:
        """Build ResBlockU(in, out) and, when asked, AttnBlock(out)."""
        super().__init__()
        self.res = ResBlockU(in_channels, out_channels)
        self.attn = AttnBlock(out_channels) if attention else nn.Identity()

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Attn(ResBlock(x, u))."""
        return self.attn(self.res(x, u))


class UNet(nn.Module):
    """(N, 3, 32, 32), (N, 256) -> (N, 3, 32, 32)."""

    def __init__(
        self, channels: tuple[int, ...] = CHANNELS, attention: tuple[bool, ...] = ATTENTION, blocks: int = 2
    ) -> None:
        """Build descent, middle and ascent for len(channels) resolutions with `blocks` blocks each."""
        super().__init__()
        self.blocks = blocks
        self.stem = nn.Conv2d(3, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        skip = [channels[0]]
        current = channels[0]
        for level, (width, attn) in enumerate(zip(channels, attention)):
            for _ in range(blocks):
                self.down.append(Step(current, width, attn))
                current = width
                skip.append(current)
            if level < len(channels) - 1:
                self.down.append(nn.Conv2d(current, current, 3, stride=2, padding=1))
                skip.append(current)
        self.middle = nn.ModuleList([ResBlockU(current, current), AttnBlock(current), ResBlockU(current, current)])
        self.up = nn.ModuleList()
        for level in reversed(range(len(channels))):
            width, attn = channels[level], attention[level]
            for _ in range(blocks):
                self.up.append(Step(current + skip.pop(), width, attn))
                current = width
            out = channels[level - 1] if level > 0 else channels[0]
            self.up.append(Step(current + skip.pop(), out, attn))
            current = out
            if level > 0:
                self.up.append(nn.ConvTranspose2d(current, current, 4, stride=2, padding=1))
        self.head = nn.Sequential(nn.GroupNorm(GROUPS, current), nn.SiLU(), nn.Conv2d(current, 3, 3, padding=1))

    def walk(self, x: torch.Tensor, u: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Run the network and return every named intermediate image, ending with the output."""
        named = []
        z = self.stem(x)
        zs = [z]
        named.append(("z1 = Conv(x)", z))
        for module in self.down:
            z = module(z, u) if isinstance(module, Step) else module(z)
            zs.append(z)
            previous = f"z{len(zs) - 1}"
            if not isinstance(module, Step):
                label = f"Conv({previous}) F=3 S=2 P=1"
            elif isinstance(module.attn, AttnBlock):
                label = f"Attn(ResBlock({previous}))"
            else:
                label = f"ResBlock({previous})"
            named.append((f"z{len(zs)} = {label}", z))
        y = self.middle[2](self.middle[1](self.middle[0](z, u)), u)
        index = len(zs) + 1
        named.append((f"y{index} = ResBlock(Attn(ResBlock(z{len(zs)})))", y))
        for position, module in enumerate(self.up):
            if isinstance(module, Step):
                index -= 1
                y = module(torch.cat([y, zs.pop()], dim=1), u)
                upsampled_next = position + 1 < len(self.up) and not isinstance(self.up[position + 1], Step)
                name = f"{'ȳ' if upsampled_next else 'y'}{index}"
                inner = f"ResBlock(y{index + 1} ⊕ z{index})"
                named.append((f"{name} = " + (f"Attn({inner})" if isinstance(module.attn, AttnBlock) else inner), y))
            else:
                y = module(y)
                named.append((f"y{index} = TransConv(ȳ{index}) F=4 S=2 P=1", y))
        named.append(("output = Conv(swish(GroupNorm(y1)))", self.head(y)))
        return named

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Same-shape transformation of x conditioned on u."""
        return self.walk(x, u)[-1][1]
