"""Equivalent-model conversion for AdjointBackMapV2: fold batch norm and Fixup multipliers into the
convolutions (source eq. 3.6), then gather every bias into one vector x_b with restriction maps.

A model that supports folding names its pairs: `conv_bn_pairs()` and `conv_multiplier_pairs()`
return (conv, other) module names. After folding, the network's only non-kernel parameters are
biases (`*.bias` parameters: convolution biases from BN, Fixup scalars); `BiasLayout` lists them in
forward order, `gather` concatenates them into x_b and `restrict` cuts x_b back into per-layer
pieces (the maps r_l of eq. 3.17), so `call_with_bias(model, layout, x, x_b)` evaluates the network
as a function of the pair [x; x_b].
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call


def fold_bn_into_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """Return a conv with w' = gamma w / sqrt(var + eps) and b' = beta - gamma mu / sqrt(var + eps) (eq. 3.6)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("batch norm without running statistics cannot be folded")
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=True,
    )
    folded = folded.to(conv.weight.dtype)
    old_bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight.detach() * scale.view(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias.detach() + (old_bias - bn.running_mean) * scale)
    return folded


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` at the dotted path `name` inside `model`."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Return an eval-mode copy whose (conv, BN) pairs are merged into biased convs; BN becomes Identity."""
    folded = copy.deepcopy(model).eval()
    for conv_name, bn_name in getattr(model, "conv_bn_pairs", lambda: [])():
        conv, bn = folded.get_submodule(conv_name), folded.get_submodule(bn_name)
        _replace(folded, conv_name, fold_bn_into_conv(conv, bn))
        _replace(folded, bn_name, nn.Identity())
    return folded


def fold_multipliers(model: nn.Module) -> nn.Module:
    """Return an eval-mode copy with each Fixup multiplier M folded into its conv (w' = M w)."""
    folded = copy.deepcopy(model).eval()
    for conv_name, mult_name in getattr(model, "conv_multiplier_pairs", lambda: [])():
        conv, mult = folded.get_submodule(conv_name), folded.get_submodule(mult_name)
        if conv.bias is not None:
            raise ValueError(f"{conv_name} has a bias: M (w x + b) is not (M w) x + b")
        with torch.no_grad():
            conv.weight.mul_(mult.scale.detach())
        _replace(folded, mult_name, nn.Identity())
    return folded


def equivalent_model(model: nn.Module) -> nn.Module:
    """Fold multipliers, then batch norm: the bias-as-input network of source fig. 3.2/3.4."""
    return fold_batchnorm(fold_multipliers(model)).eval()


@dataclass(frozen=True)
class BiasLayout:
    """Where each layer's bias sits inside x_b: parameter names, shapes and offsets (forward order)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    size: int

    def slice_of(self, name: str) -> slice:
        """Return the slice of x_b that holds parameter `name`."""
        i = self.names.index(name)
        return slice(self.offsets[i], self.offsets[i] + _numel(self.shapes[i]))

    def restriction_matrix(self, name: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Return the 0/1 matrix R_l (m_l x M) of the restriction map r_l (eq. 3.17)."""
        sl = self.slice_of(name)
        eye = torch.eye(self.size, dtype=dtype)
        return eye[sl]


def _numel(shape: tuple[int, ...]) -> int:
    """Number of elements of a shape."""
    n = 1
    for s in shape:
        n *= s
    return n


def bias_layout(model: nn.Module, strict: bool = True) -> BiasLayout:
    """List every `*.bias` parameter; with strict=True refuse parameters that are neither weights nor biases."""
    names, shapes, offsets, offset = [], [], [], 0
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            names.append(name)
            shapes.append(tuple(p.shape))
            offsets.append(offset)
            offset += p.numel()
        elif strict and not name.endswith("weight"):
            raise ValueError(f"parameter {name} is neither a weight nor a bias: fold it first (equivalent_model)")
    return BiasLayout(tuple(names), tuple(shapes), tuple(offsets), offset)


def gather(model: nn.Module, layout: BiasLayout) -> torch.Tensor:
    """Concatenate the model's biases into x_b (empty for a bias-free network)."""
    params = dict(model.named_parameters())
    dtype = next(model.parameters()).dtype
    if not layout.names:
        return torch.zeros(0, dtype=dtype)
    return torch.cat([params[n].detach().reshape(-1) for n in layout.names])


def restrict(x_b: torch.Tensor, layout: BiasLayout) -> dict[str, torch.Tensor]:
    """Cut x_b back into per-layer biases: the restriction maps r_l of eq. 3.17."""
    if x_b.shape != (layout.size,):
        raise ValueError(f"x_b must have shape ({layout.size},), got {tuple(x_b.shape)}")
    return {n: x_b[o : o + _numel(s)].reshape(s) for n, s, o in zip(layout.names, layout.shapes, layout.offsets)}


def call_with_bias(model: nn.Module, layout: BiasLayout, x: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
    """Evaluate the network on the pair [x; x_b] (the biases taken from x_b, not from the model)."""
    return functional_call(model, restrict(x_b, layout), (x,), strict=False)
