"""The coursework's small CNN and its fully connected counterpart on 3x32x32 images, and their counts.

CNN: conv 3x3 (3->32), max-pool 2, conv 3x3 (32->64), max-pool 2, conv 3x3 (64->3), padding 1.
FC: the same layout with every convolution replaced by a fully connected layer that keeps the
shape (3x32x32 -> 3x32x32, then 3x16x16, then 3x8x8). The coursework counts neurons (outputs of the
convolution, pooling and linear layers) and parameters without biases; both are computed from the
modules by `layer_counts`. `leaf_counts` does the same for any network, adding the coursework's
count of connections of each convolution (k*k*C_in per output value) and the count without the
taps that fall on padding.
"""

from __future__ import annotations

import torch
from torch import nn

from gancnn.conv.arithmetic import conv_output_size
from gancnn.models import count_parameters

SHARPEN = ((0.0, -1.0, 0.0), (-1.0, 5.0, -1.0), (0.0, -1.0, 0.0))  # the coursework's sharpening filter


class FlatLinear(nn.Module):
    """A fully connected layer on a (C, H, W) image that returns the same shape."""

    def __init__(self, shape: tuple[int, int, int], bias: bool = False) -> None:
        """Connect every one of the C*H*W inputs to every output."""
        super().__init__()
        self.shape = shape
        size = shape[0] * shape[1] * shape[2]
        self.linear = nn.Linear(size, size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten, multiply, fold back."""
        return self.linear(x.flatten(1)).view(-1, *self.shape)


def small_cnn(bias: bool = False) -> nn.Sequential:
    """The coursework CNN (ReLUs after the hidden convolutions; they hold no neurons of their own in the count)."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 3, 3, padding=1, bias=bias),
    )


def small_fc(bias: bool = False) -> nn.Sequential:
    """The fully connected network with the CNN's layout."""
    return nn.Sequential(
        FlatLinear((3, 32, 32), bias),
        nn.ReLU(),
        nn.MaxPool2d(2),
        FlatLinear((3, 16, 16), bias),
        nn.ReLU(),
        nn.MaxPool2d(2),
        FlatLinear((3, 8, 8), bias),
    )


COUNTED = (nn.Conv2d, nn.MaxPool2d, FlatLinear)


def layer_counts(model: nn.Sequential, in_shape: tuple[int, int, int] = (3, 32, 32)) -> list[dict[str, object]]:
    """Run one image through the model and list, per counted layer, its output shape, neurons and parameters."""
    rows = []
    x = torch.zeros(1, *in_shape)
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            if isinstance(layer, COUNTED):
                rows.append(
                    {
                        "layer": type(layer).__name__,
                        "output": tuple(x.shape[1:]),
                        "neurons": x[0].numel(),
                        "parameters": count_parameters(layer),
                    }
                )
    return rows


def sharpening_kernel(channels: int = 1) -> torch.Tensor:
    """The sharpening filter as a depthwise conv weight (channels, 1, 3, 3)."""
    return torch.tensor(SHARPEN).expand(channels, 1, 3, 3).clone()


def taps_inside(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Number of (output position, kernel tap) pairs along one axis whose tap reads a real pixel, not padding."""
    out = conv_output_size(size, kernel, stride, padding, dilation)
    return sum(1 for i in range(out) for u in range(kernel) if 0 <= i * stride + u * dilation - padding < size)


def leaf_counts(model: nn.Module, in_shape: tuple[int, int, int]) -> list[dict[str, object]]:
    """Per leaf module of a forward pass on one image: output values, conv weights (no bias), connections."""
    rows: list[dict[str, object]] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        """Forward hook: append one row for this module."""
        row = {
            "layer": type(module).__name__,
            "output": tuple(output.shape[1:]),
            "outputs": output[0].numel(),
            "weights": 0,
            "connections": 0,
            "connections inside": 0,
        }
        if isinstance(module, nn.Conv2d):
            c_in, (kh, kw) = module.in_channels // module.groups, module.kernel_size
            (h, w), (sh, sw), (ph, pw) = inputs[0].shape[2:], module.stride, module.padding
            row["weights"] = module.weight.numel()
            row["connections"] = output[0].numel() * c_in * kh * kw
            row["connections inside"] = (
                taps_inside(h, kh, sh, ph, module.dilation[0])
                * taps_inside(w, kw, sw, pw, module.dilation[1])
                * c_in
                * module.out_channels
            )
        rows.append(row)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *in_shape))
    finally:
        for handle in handles:
            handle.remove()
    return rows
