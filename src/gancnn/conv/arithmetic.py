"""Convolution arithmetic: output-size formulas, convolution as a matrix, transposed convolution.

Conventions follow torch: a convolution weight has shape (C_out, C_in, F, F); a transposed
convolution weight has shape (C_in, C_out, F, F). Images are (N, C, H, W) or (C, H, W);
`vec` flattens (C, H, W) in row-major order, channel first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def _check_geometry(kernel: int, stride: int, padding: int, dilation: int) -> None:
    """Fail on a kernel, stride, padding or dilation that no convolution can have."""
    if kernel < 1 or stride < 1 or dilation < 1 or padding < 0:
        raise ValueError(
            f"need kernel>=1, stride>=1, dilation>=1, padding>=0; got kernel={kernel}, "
            f"stride={stride}, padding={padding}, dilation={dilation}"
        )


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Lemma: floor((size + 2P - D(F-1) - 1) / S) + 1 positions of a dilated kernel on a padded line."""
    _check_geometry(kernel, stride, padding, dilation)
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(f"kernel span {span} does not fit in the padded size {size + 2 * padding}")
    return (size + 2 * padding - span) // stride + 1


def conv_transpose_output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Lemma: (size-1)S - 2P + D(F-1) + output_padding + 1 (torch requires output_padding < max(S, D))."""
    _check_geometry(kernel, stride, padding, dilation)
    if not 0 <= output_padding < max(stride, dilation):
        raise ValueError(
            f"output_padding must lie in [0, max(stride, dilation)) = [0, {max(stride, dilation)}), "
            f"got {output_padding}"
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding {padding} removes the whole output (size {out})")
    return out


@dataclass(frozen=True)
class LayerSolution:
    """One (kernel, padding, output_padding) choice that maps n_in to n_out at a stride."""

    kernel: int
    stride: int
    padding: int
    output_padding: int
    transposed: bool


def solve_padding(
    n_in: int, n_out: int, kernel: int, stride: int, transposed: bool, max_padding: int | None = None
) -> list[LayerSolution]:
    """Every symmetric padding (and output padding, if transposed) that maps n_in to n_out."""
    max_padding = kernel if max_padding is None else max_padding
    found = []
    for padding in range(max_padding + 1):
        for output_padding in range(stride) if transposed else (0,):
            try:
                size = (
                    conv_transpose_output_size(n_in, kernel, stride, padding, output_padding)
                    if transposed
                    else conv_output_size(n_in, kernel, stride, padding)
                )
            except ValueError:
                continue
            if size == n_out:
                found.append(LayerSolution(kernel, stride, padding, output_padding, transposed))
    return found


def conv_matrix(
    weight: torch.Tensor, in_shape: tuple[int, int, int], stride: int = 1, padding: int = 0, dilation: int = 1
) -> torch.Tensor:
    """The matrix V (C'H'W' x CHW) with conv(x) = V vec(x) + b, filled in from the definition."""
    c_out, c_in, kh, kw = weight.shape
    c, h, w = in_shape
    if c != c_in:
        raise ValueError(f"weight expects {c_in} input channels, the input shape has {c}")
    h_out = conv_output_size(h, kh, stride, padding, dilation)
    w_out = conv_output_size(w, kw, stride, padding, dilation)
    # One entry per (output channel, output row, output column, input channel, kernel row, kernel column).
    o, i, j, ci, u, v = np.meshgrid(
        np.arange(c_out),
        np.arange(h_out),
        np.arange(w_out),
        np.arange(c_in),
        np.arange(kh),
        np.arange(kw),
        indexing="ij",
    )
    rows_in = i * stride + u * dilation - padding  # the input pixel the kernel tap (u, v) sits on
    cols_in = j * stride + v * dilation - padding
    inside = (rows_in >= 0) & (rows_in < h) & (cols_in >= 0) & (cols_in < w)  # taps on padding read zeros
    out_index = ((o * h_out + i) * w_out + j)[inside]
    in_index = ((ci * h + rows_in) * w + cols_in)[inside]
    values = weight.detach()[
        torch.as_tensor(o[inside]), torch.as_tensor(ci[inside]), torch.as_tensor(u[inside]), torch.as_tensor(v[inside])
    ]
    matrix = torch.zeros(c_out * h_out * w_out, c * h * w, dtype=weight.dtype)
    matrix.index_put_((torch.as_tensor(out_index), torch.as_tensor(in_index)), values, accumulate=True)
    return matrix


def conv_by_matrix(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> torch.Tensor:
    """Convolve a batch (N, C, H, W) as V vec(x) + b, reshaped to (N, C', H', W')."""
    n, c, h, w = x.shape
    matrix = conv_matrix(weight, (c, h, w), stride, padding, dilation)
    c_out = weight.shape[0]
    h_out = conv_output_size(h, weight.shape[2], stride, padding, dilation)
    w_out = conv_output_size(w, weight.shape[3], stride, padding, dilation)
    y = (x.reshape(n, -1) @ matrix.T).reshape(n, c_out, h_out, w_out)
    return y if bias is None else y + bias.view(1, c_out, 1, 1)


def conv_transpose_by_matrix(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
) -> torch.Tensor:
    """Transposed convolution as V^T vec(x) + b, V the matrix of the implicit conv from the output shape back."""
    n, c_in, h, w = x.shape
    if weight.shape[0] != c_in:
        raise ValueError(f"transposed-conv weight expects {weight.shape[0]} input channels, got {c_in}")
    c_out, kh, kw = weight.shape[1], weight.shape[2], weight.shape[3]
    h_out = conv_transpose_output_size(h, kh, stride, padding, output_padding)
    w_out = conv_transpose_output_size(w, kw, stride, padding, output_padding)
    # Read (C_in, C_out, F, F) as a conv weight (out=C_in, in=C_out): the conv that maps the big image back.
    matrix = conv_matrix(weight, (c_out, h_out, w_out), stride, padding)
    y = (x.reshape(n, -1) @ matrix).reshape(n, c_out, h_out, w_out)
    return y if bias is None else y + bias.view(1, c_out, 1, 1)


def insert_zeros(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Put stride-1 zeros between neighbouring pixels of a batch (N, C, H, W)."""
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, (h - 1) * stride + 1, (w - 1) * stride + 1)
    out[:, :, ::stride, ::stride] = x
    return out


def conv_transpose_by_zero_insertion(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
) -> torch.Tensor:
    """Transposed convolution as: insert S-1 zeros, pad F-1-P (+output_padding after), flip, stride-1 conv."""
    kernel = weight.shape[-1]
    if weight.shape[-2] != kernel:
        raise ValueError("square kernels only")
    conv_transpose_output_size(x.shape[-1], kernel, stride, padding, output_padding)  # validates the arguments
    edge = kernel - 1 - padding  # may be negative: then F.pad crops instead of padding
    spread = F.pad(insert_zeros(x, stride), (edge, edge + output_padding, edge, edge + output_padding))
    flipped = weight.flip(-1, -2).transpose(0, 1)  # (C_out, C_in, F, F), kernel turned by 180 degrees
    return F.conv2d(spread, flipped, bias, stride=1, padding=0)
