"""Receptive fields: the recurrence r_l = r_{l-1} + D_l (F_l - 1) j_{l-1}, j_l = j_{l-1} S_l, and a gradient check.

A layer is a tuple (kernel, stride, dilation). The gradient check builds the same stack with all
weights equal to one and no bias, back-propagates a one-hot gradient from the centre output unit and
measures the extent of the input pixels that receive a non-zero gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

Layer = tuple[int, int, int]  # (kernel, stride, dilation)


def receptive_field(layers: Sequence[Layer]) -> list[int]:
    """Receptive-field side after each layer (entry 0 is the input pixel itself: 1)."""
    size, jump, sizes = 1, 1, [1]
    for kernel, stride, dilation in layers:
        if kernel < 1 or stride < 1 or dilation < 1:
            raise ValueError(f"invalid layer (kernel={kernel}, stride={stride}, dilation={dilation})")
        size += dilation * (kernel - 1) * jump
        jump *= stride
        sizes.append(size)
    return sizes


def ones_stack(layers: Sequence[Layer], channels: int = 1) -> nn.Sequential:
    """A stack of unpadded convolutions with every weight set to one (no cancellations, no bias)."""
    convs = []
    for kernel, stride, dilation in layers:
        conv = nn.Conv2d(channels, channels, kernel, stride=stride, dilation=dilation, bias=False)
        nn.init.ones_(conv.weight)
        convs.append(conv)
    return nn.Sequential(*convs)


def min_input_size(layers: Sequence[Layer]) -> int:
    """Smallest input side for which the stack produces an output at all."""
    return receptive_field(layers)[-1]


def gradient_receptive_field(model: nn.Module, input_size: int, channels: int = 1) -> tuple[int, int, torch.Tensor]:
    """Height and width of the input region that reaches the centre output unit, from a one-hot gradient."""
    x = torch.zeros(1, channels, input_size, input_size, dtype=torch.float64, requires_grad=True)
    y = model.double()(x)
    one_hot = torch.zeros_like(y)
    one_hot[0, 0, y.shape[2] // 2, y.shape[3] // 2] = 1.0
    (grad,) = torch.autograd.grad(y, x, grad_outputs=one_hot)
    touched = grad[0].abs().sum(0) > 0
    rows = torch.nonzero(touched.any(1)).flatten()
    cols = torch.nonzero(touched.any(0)).flatten()
    height = int(rows.max() - rows.min() + 1) if len(rows) else 0
    width = int(cols.max() - cols.min() + 1) if len(cols) else 0
    return height, width, grad[0, 0].detach()
