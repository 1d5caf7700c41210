"""BigGAN-deep's generator written as named operators (Brock et al. 2019, as laid out in the GAN-math source).

Every operator the source names is its own module, so forward hooks see each one: class embedding,
concatenation into the conditional vector c, a spectrally normalised linear map refactored to a
4x4 tensor, residual blocks with and without nearest up-sampling and with channel drop, conditional
batch norm whose statistics are indexed by the truncation value, self-attention with max-pooled phi and g,
and the final batch norm, ReLU, 3x3 convolution, slice to 3 channels and tanh.
Weights are random (trained BigGAN weights cannot be downloaded here); `width` and `resolution`
scale the network: width 128 and resolution 256 is the source's configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gancnn.models.selfattention import SelfAttention2d

# Channel multipliers of `width` at resolutions 4, 8, ..., R (BigGAN's published architectures).
CHANNEL_MULTIPLIERS: dict[int, tuple[int, ...]] = {
    32: (4, 4, 4, 4),
    64: (16, 16, 8, 4, 2),
    128: (16, 16, 8, 4, 2, 1),
    256: (16, 16, 8, 8, 4, 2, 1),
    512: (16, 16, 8, 8, 4, 2, 1, 1),
}


def sn_linear(d_in: int, d_out: int, bias: bool = True) -> nn.Linear:
    """A linear map whose weight torch divides by its largest singular value (power-iteration estimate)."""
    return spectral_norm(nn.Linear(d_in, d_out, bias=bias))


def sn_conv(c_in: int, c_out: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """A 'same'-padded convolution (stride 1) with a spectrally normalised kernel."""
    return spectral_norm(nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=bias))


class ClassEmbedding(nn.Module):
    """E: one-hot label l in R^|L| -> e = l A^T in R^t (eq. 1), A initialised from N(0, 1)."""

    def __init__(self, n_classes: int, dim: int) -> None:
        """Create the t x |L| embedding matrix."""
        super().__init__()
        self.n_classes = n_classes
        self.weight = nn.Parameter(torch.randn(dim, n_classes))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        """Accept integer labels (B,) or one-hot / soft labels (B, |L|); return (B, t)."""
        if labels.dim() == 1:
            labels = F.one_hot(labels.long(), self.n_classes).to(self.weight.dtype)
        return labels @ self.weight.T


class Concat(nn.Module):
    """c = (z^T, e^T): stack noise and embedding into the conditional vector (eq. 2)."""

    def forward(self, z: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Concatenate along the feature axis."""
        return torch.cat([z, e], dim=1)


class Refactor(nn.Module):
    """Reshape (B, H*W*C) to (B, H, W, C), then permute to (B, C, H, W) (section 3.2)."""

    def __init__(self, channels: int, size: int = 4) -> None:
        """Remember the target channel count and spatial size."""
        super().__init__()
        self.channels, self.size = channels, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reorder a flat vector into an image-shaped tensor."""
        return x.view(-1, self.size, self.size, self.channels).permute(0, 3, 1, 2).contiguous()


def truncation_row(truncation: float, n_stats: int) -> tuple[int, float]:
    """Split truncation/eta into integer row s and fraction f, eta = 1/(n_stats-1) (section 3.3.1)."""
    if not 0.0 < truncation <= 1.0:
        raise ValueError(f"truncation must lie in (0, 1], got {truncation}")
    frac, row = math.modf(truncation * (n_stats - 1))
    return int(row), frac


class ConditionalBatchNorm2d(nn.Module):
    """B: (x - r_mean)/sqrt(r_var + eps) * w + b with per-truncation running statistics (eqs. 6-8, 59).

    Conditional: w = 1 + c A_w^T and b = c A_b^T from spectrally normalised bias-free linear maps.
    Unconditional (the last BN): w and b are plain parameters.  The statistics live in an
    (n_stats, C) bank; row s (and s+1, weighted by the fraction f) is chosen by the truncation.
    """

    def __init__(self, channels: int, cond_dim: int | None, n_stats: int = 51, eps: float = 1e-4) -> None:
        """cond_dim=None makes the layer unconditional."""
        super().__init__()
        self.channels, self.n_stats, self.eps = channels, n_stats, eps
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.conditional = cond_dim is not None
        if self.conditional:
            self.scale = sn_linear(cond_dim, channels, bias=False)
            self.offset = sn_linear(cond_dim, channels, bias=False)
        else:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
        self.record_stats = False

    def statistics(self, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (r_mean, r_var) for a truncation: row s, linearly interpolated towards row s+1 by f."""
        row, frac = truncation_row(truncation, self.n_stats)
        mean, var = self.running_means[row], self.running_vars[row]
        if frac > 0 and row + 1 < self.n_stats:
            mean = (1 - frac) * mean + frac * self.running_means[row + 1]
            var = (1 - frac) * var + frac * self.running_vars[row + 1]
        return mean, var

    def gain_and_shift(self, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return w and b as (B or 1, C) tensors."""
        if self.conditional:
            if cond is None:
                raise ValueError("a conditional batch norm needs the conditional vector c")
            return 1.0 + self.scale(cond), self.offset(cond)
        return self.weight[None], self.bias[None]

    def forward(self, x: torch.Tensor, truncation: float, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Normalise with the stored (or, while recording, the batch's) statistics, then scale and shift."""
        if self.record_stats:
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            with torch.no_grad():
                self.running_means.copy_(mean.detach().expand_as(self.running_means))
                self.running_vars.copy_(var.detach().expand_as(self.running_vars))
        else:
            mean, var = self.statistics(truncation)
        w, b = self.gain_and_shift(cond)
        x_hat = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps)
        return x_hat * w[:, :, None, None] + b[:, :, None, None]


class ChannelDrop(nn.Module):
    """D: keep the first `channels` channels of the skip path (eq. 27)."""

    def __init__(self, channels: int) -> None:
        """Remember how many channels survive."""
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Slice x[:, :channels]."""
        return x[:, : self.channels]


class Add(nn.Module):
    """A: the residual addition (eqs. 22, 25, 29)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Return a + b."""
        return a + b


class Slice(nn.Module):
    """S: keep the first three (RGB) channels of the last convolution's output (eq. 62)."""

    def __init__(self, channels: int = 3) -> None:
        """Remember how many channels to keep."""
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Slice x[:, :channels]."""
        return x[:, : self.channels]


class GeneratorBlock(nn.Module):
    """BigGAN-deep residual block: 4 x (BN, ReLU, conv) with an optional 2x up-sampling and channel drop.

    Main path: BN0 ReLU C0(1x1, c_in -> c_in/4), BN1 ReLU [U] C1(3x3), BN2 ReLU C2(3x3),
    BN3 ReLU C3(1x1 -> c_out).  Skip path: [D: first c_out channels] [U].  Output: main + skip.
    """

    def __init__(self, c_in: int, c_out: int, cond_dim: int, up: bool, n_stats: int = 51, bottleneck: int = 4) -> None:
        """Build the operators; channel drop is used when c_out < c_in."""
        super().__init__()
        if c_out > c_in:
            raise ValueError(f"BigGAN-deep blocks never widen the skip path: c_in={c_in} < c_out={c_out}")
        mid = max(c_in // bottleneck, 1)
        self.c_in, self.c_out, self.up = c_in, c_out, up
        self.bn_0, self.relu_0 = ConditionalBatchNorm2d(c_in, cond_dim, n_stats), nn.ReLU()
        self.conv_0 = sn_conv(c_in, mid, 1)
        self.bn_1, self.relu_1 = ConditionalBatchNorm2d(mid, cond_dim, n_stats), nn.ReLU()
        self.up_0 = nn.Upsample(scale_factor=2, mode="nearest") if up else None
        self.conv_1 = sn_conv(mid, mid, 3)
        self.bn_2, self.relu_2 = ConditionalBatchNorm2d(mid, cond_dim, n_stats), nn.ReLU()
        self.conv_2 = sn_conv(mid, mid, 3)
        self.bn_3, self.relu_3 = ConditionalBatchNorm2d(mid, cond_dim, n_stats), nn.ReLU()
        self.conv_3 = sn_conv(mid, c_out, 1)
        self.drop = ChannelDrop(c_out) if c_out < c_in else None
        self.up_1 = nn.Upsample(scale_factor=2, mode="nearest") if up else None
        self.add = Add()

    @property
    def kind(self) -> str:
        """The source's short name: g (plain), gu (up-sampling), gup (up-sampling and channel drop)."""
        return "g" + ("u" if self.up else "") + ("p" if self.drop is not None else "")

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        """Apply the main path and the skip path and add them."""
        h = self.conv_0(self.relu_0(self.bn_0(x, truncation, cond)))
        h = self.relu_1(self.bn_1(h, truncation, cond))
        if self.up_0 is not None:
            h = self.up_0(h)
        h = self.conv_1(h)
        h = self.conv_2(self.relu_2(self.bn_2(h, truncation, cond)))
        h = self.conv_3(self.relu_3(self.bn_3(h, truncation, cond)))
        skip = x if self.drop is None else self.drop(x)
        if self.up_1 is not None:
            skip = self.up_1(skip)
        return self.add(h, skip)


@dataclass(frozen=True)
class LayerSpec:
    """One entry of the sequence L_0 ... L_n: a block (c_in, c_out, up) or the attention layer."""

    kind: str
    c_in: int
    c_out: int
    up: bool = False


def layer_plan(resolution: int, width: int, attention_resolution: int | None = 64) -> list[LayerSpec]:
    """BigGAN-deep's layer sequence: per scale a plain block, then an up block (attention after reaching its size)."""
    if resolution not in CHANNEL_MULTIPLIERS:
        raise ValueError(f"resolution must be one of {sorted(CHANNEL_MULTIPLIERS)}, got {resolution}")
    mult = CHANNEL_MULTIPLIERS[resolution]
    plan: list[LayerSpec] = []
    size = 4
    for i in range(len(mult) - 1):
        c, c_next = width * mult[i], width * mult[i + 1]
        plan.append(LayerSpec("g", c, c))
        plan.append(LayerSpec("gup" if c_next < c else "gu", c, c_next, up=True))
        size *= 2
        if attention_resolution == size:
            plan.append(LayerSpec("s", c_next, c_next))
    if attention_resolution is not None and not any(s.kind == "s" for s in plan):
        raise ValueError(f"attention_resolution {attention_resolution} is not an up-sampled size in 8..{resolution}")
    return plan


class BigGANDeepGenerator(nn.Module):
    """G(z, l, sigma): embedding, concat, SN linear, refactor, L_0..L_n, BN, ReLU, conv, slice, tanh."""

    def __init__(
        self,
        resolution: int = 256,
        width: int = 128,
        z_dim: int = 128,
        n_classes: int = 1000,
        n_stats: int = 51,
        attention_resolution: int | None = 64,
    ) -> None:
        """width=128, resolution=256 is the source's BigGAN-deep-256; smaller values give a narrow copy."""
        super().__init__()
        if width < 1 or z_dim < 1 or n_classes < 1 or n_stats < 2:
            raise ValueError("width, z_dim and n_classes must be positive and n_stats >= 2")
        self.resolution, self.width, self.z_dim, self.n_classes = resolution, width, z_dim, n_classes
        self.plan = layer_plan(resolution, width, attention_resolution)
        cond_dim = 2 * z_dim
        c0 = self.plan[0].c_in
        self.embedding = ClassEmbedding(n_classes, z_dim)
        self.concat = Concat()
        self.linear = sn_linear(cond_dim, 4 * 4 * c0)
        self.refactor = Refactor(c0, 4)
        self.layers = nn.ModuleList(
            SelfAttention2d(s.c_in, reduction=8, pool=True, spectral=True)
            if s.kind == "s"
            else GeneratorBlock(s.c_in, s.c_out, cond_dim, s.up, n_stats)
            for s in self.plan
        )
        c_last = self.plan[-1].c_out
        self.bn = ConditionalBatchNorm2d(c_last, None, n_stats)
        self.relu = nn.ReLU()
        self.conv_to_rgb = sn_conv(c_last, c_last, 3)
        self.slice = Slice(3)
        self.tanh = nn.Tanh()

    def condition(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Return c = (z, E(l)) in R^{B x 2t}."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (B, {self.z_dim}), got {tuple(z.shape)}")
        return self.concat(z, self.embedding(labels))

    def stem(self, cond: torch.Tensor) -> torch.Tensor:
        """F then refactor: c A^T + b reshaped to (B, C_0, 4, 4)."""
        return self.refactor(self.linear(cond))

    def synthesize(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        """Run L_0..L_n and the output operators on a 4x4 tensor; return images in [-1, 1]."""
        for layer in self.layers:
            x = layer(x) if isinstance(layer, SelfAttention2d) else layer(x, cond, truncation)
        x = self.conv_to_rgb(self.relu(self.bn(x, truncation)))
        return self.tanh(self.slice(x))

    def forward(self, z: torch.Tensor, labels: torch.Tensor, truncation: float = 0.4) -> torch.Tensor:
        """Return generated images (B, 3, R, R) in [-1, 1]."""
        cond = self.condition(z, labels)
        return self.synthesize(self.stem(cond), cond, truncation)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor, truncation: float = 0.4) -> torch.Tensor:
        """Sample images without gradients in eval mode (stored statistics)."""
        was_training = self.training
        self.eval()
        try:
            return self(z, labels, truncation)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def record_standing_stats(self, z: torch.Tensor, labels: torch.Tensor, truncation: float = 0.4) -> None:
        """Store each batch norm's batch statistics on (z, labels) in all rows of its bank ('standing statistics')."""
        bns = [m for m in self.modules() if isinstance(m, ConditionalBatchNorm2d)]
        for bn in bns:
            bn.record_stats = True
        try:
            self(z, labels, truncation)
        finally:
            for bn in bns:
                bn.record_stats = False


def truncated_noise(
    n: int, dim: int, truncation: float, generator: torch.Generator | None = None, bound: float = 2.0
) -> torch.Tensor:
    """Draw z from N(0, I) truncated to [-bound, bound] (resampling outliers), scaled by the truncation."""
    z = torch.randn(n, dim, generator=generator)
    outside = z.abs() > bound
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > bound
    return truncation * z


def to_uint8_images(x: torch.Tensor, scale: float = 256.0) -> torch.Tensor:
    """Section 4: (B, C, H, W) in [-1, 1] -> (B, H, W, C) bytes via (x + 1)/2 * scale clipped to [0, 255]."""
    return ((x.permute(0, 2, 3, 1) + 1) / 2 * scale).clamp(0, 255).to(torch.uint8)


def biggan_deep(resolution: int = 256, width: int = 128, **kwargs: int) -> BigGANDeepGenerator:
    """Build a randomly initialised BigGAN-deep generator (width 128, resolution 256 is the source's)."""
    return BigGANDeepGenerator(resolution=resolution, width=width, **kwargs)
