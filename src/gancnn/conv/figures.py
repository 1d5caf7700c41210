"""Figures in the style of Dumoulin & Visin's convolution-arithmetic guide, drawn from the arithmetic itself.

A panel shows the (padded, for transposed convolutions also zero-spread) input as a grid of cells,
the kernel's footprint at one position, and the output grid with the cell that position produces.
Cell kinds: 0 padding, 1 input pixel, 2 zero inserted between pixels (transposed convolution).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle
from PIL import Image

from gancnn.book import plots
from gancnn.conv.arithmetic import conv_matrix, conv_output_size, conv_transpose_output_size

PAD, PIXEL, INSERTED = 0, 1, 2
FACE = {PAD: "white", PIXEL: "#8fb8de", INSERTED: "white"}
EDGE = {PAD: ("0.55", "--"), PIXEL: ("0.25", "-"), INSERTED: ("#c0392b", ":")}


@dataclass(frozen=True)
class Case:
    """One convolution (or transposed convolution) to draw; sizes are square."""

    size: int
    kernel: int
    stride: int = 1
    padding: int = 0
    transposed: bool = False
    output_padding: int = 0

    def title(self) -> str:
        """Short description with the output size from the lemmas."""
        if self.transposed:
            out = conv_transpose_output_size(self.size, self.kernel, self.stride, self.padding, self.output_padding)
            extra = f", OP={self.output_padding}" if self.output_padding else ""
            return f"TransConv N={self.size}, F={self.kernel}, S={self.stride}, P={self.padding}{extra} -> {out}"
        out = conv_output_size(self.size, self.kernel, self.stride, self.padding)
        return f"Conv N={self.size}, F={self.kernel}, S={self.stride}, P={self.padding} -> {out}"


def input_layout(case: Case) -> tuple[np.ndarray, int]:
    """Cell kinds of the grid the kernel actually slides over, and the stride it slides with."""
    if not case.transposed:
        layout = np.pad(np.full((case.size, case.size), PIXEL), case.padding, constant_values=PAD)
        return layout, case.stride
    spread = case.size + (case.size - 1) * (case.stride - 1)
    layout = np.full((spread, spread), INSERTED)
    layout[:: case.stride, :: case.stride] = PIXEL
    edge = case.kernel - 1 - case.padding
    if edge < 0:
        raise ValueError("drawing needs P <= F - 1 for transposed convolutions")
    layout = np.pad(
        layout, ((edge, edge + case.output_padding), (edge, edge + case.output_padding)), constant_values=PAD
    )
    return layout, 1


def draw_panel(ax: plt.Axes, case: Case, position: tuple[int, int]) -> None:
    """Draw input, kernel footprint at an output position, and the output grid on one axis."""
    layout, step = input_layout(case)
    side = layout.shape[0]
    out = (side - case.kernel) // step + 1
    for r in range(side):
        for c in range(side):
            kind = int(layout[r, c])
            colour, style = EDGE[kind]
            ax.add_patch(
                Rectangle(
                    (c, side - 1 - r), 1, 1, facecolor=FACE[kind], edgecolor=colour, linestyle=style, linewidth=0.8
                )
            )
    row, col = position
    ax.add_patch(
        Rectangle(
            (col * step, side - (row * step + case.kernel)),
            case.kernel,
            case.kernel,
            facecolor="#1f4e79",
            alpha=0.45,
            edgecolor="#1f4e79",
            linewidth=2,
        )
    )
    left = side + 1.0
    bottom = (side - out) / 2
    for r in range(out):
        for c in range(out):
            active = (r, c) == (row, col)
            ax.add_patch(
                Rectangle(
                    (left + c, bottom + out - 1 - r),
                    1,
                    1,
                    linewidth=0.8,
                    edgecolor="0.25",
                    facecolor="#1a9e77" if active else "#b8e6d3",
                )
            )
    ax.set_xlim(-0.3, left + out + 0.3)
    ax.set_ylim(-0.3, side + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")


def arithmetic_figure(cases: list[Case], n_positions: int = 3) -> plt.Figure:
    """A grid of panels: one row per case, columns the first, second and last kernel positions."""
    fig, axes = plt.subplots(
        len(cases), n_positions, figsize=plots.fit(3.4 * n_positions, 2.4 * len(cases)), squeeze=False
    )
    for row_axes, case in zip(axes, cases):
        layout, step = input_layout(case)
        out = (layout.shape[0] - case.kernel) // step + 1
        every = [(r, c) for r in range(out) for c in range(out)]
        chosen = every[: n_positions - 1] + [every[-1]] if n_positions > 1 else every[:1]
        for ax, position in zip(row_axes, chosen):
            draw_panel(ax, case, position)
            ax.set_title(f"output cell {position}", fontsize=10)
        row_axes[0].set_title("")
        row_axes[0].set_title(f"{case.title()}\noutput cell {chosen[0]}", fontsize=10, loc="left")
    return fig


def kernel_positions(case: Case) -> list[tuple[int, int]]:
    """Every kernel position of a case, row by row (one per output cell)."""
    layout, step = input_layout(case)
    out = (layout.shape[0] - case.kernel) // step + 1
    return [(r, c) for r in range(out) for c in range(out)]


def draw_position(ax: plt.Axes, case: Case, position: tuple[int, int]) -> None:
    """One frame of the animation: the panel of one kernel position, titled with its output cell."""
    ax.clear()
    draw_panel(ax, case, position)
    ax.set_title(f"{case.title()}: output cell {position}", fontsize=9)


def animate(case: Case, interval_ms: int = 600) -> FuncAnimation:
    """An animation over every kernel position of a case (for a notebook; the book shows `animated_png`)."""
    positions = kernel_positions(case)
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    animation = FuncAnimation(
        fig, lambda i: draw_position(ax, case, positions[i]) or [], frames=len(positions), interval=interval_ms
    )
    plt.close(fig)
    return animation


def animated_png(case: Case, interval_ms: int = 700, dpi: int = 110) -> bytes:
    """The animation as one looping animated PNG (APNG): shown as an ordinary image, so it takes a figure number,
    caption and alt text, and needs no script or icon font."""
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    frames = []
    for position in kernel_positions(case):
        draw_position(ax, case, position)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        frames.append(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    plt.close(fig)
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:], duration=interval_ms, loop=0)
    return out.getvalue()


def tap_pattern(kernel: int, in_shape: tuple[int, int, int], stride: int, padding: int) -> np.ndarray:
    """The conv matrix of a one-channel kernel whose taps are numbered 1..F*F (0 = structural zero)."""
    c = in_shape[0]
    taps = torch.arange(1, kernel * kernel + 1, dtype=torch.float64).view(1, 1, kernel, kernel).expand(1, c, -1, -1)
    return conv_matrix(taps, in_shape, stride, padding).numpy()


def draw_sparsity(ax: plt.Axes, pattern: np.ndarray, title: str) -> None:
    """Show a tap-numbered matrix: one colour per kernel tap, white where V is zero."""
    n_taps = int(pattern.max())
    colours = ["white"] + [plt.cm.tab20(i % 20) for i in range(n_taps)]
    ax.imshow(pattern, cmap=ListedColormap(colours), vmin=-0.5, vmax=n_taps + 0.5, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("input index (vec x)")
    ax.set_ylabel("output index")
    ax.grid(False)
