"""Plot helpers shared by the chapters (consistent style, image grids)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

DPI = 110  # figure and savefig resolution: a 6.25-inch figure fills the 688-pixel text column at 1:1
COLUMN_INCHES = 6.25
MAX_FIGURE_INCHES = 10.0  # wider figures are shrunk below 60% on the page and their lettering with them


def fit(width: float, height: float) -> tuple[float, float]:
    """A figure size no wider than MAX_FIGURE_INCHES, scaled as a whole (aspect kept) when it would be wider,
    so that the page shows it at 60% or more and its 10-pt lettering stays readable."""
    if width <= 0 or height <= 0:
        raise ValueError(f"figure sizes must be positive, got {width} x {height}")
    scale = min(1.0, MAX_FIGURE_INCHES / width)
    return width * scale, height * scale


def as_jpeg(fig: plt.Figure, quality: int = 88) -> Any:
    """A figure of photographs or noise-like maps (sample grids, hypersurfaces) as a JPEG output instead of a PNG:
    such pixels barely compress losslessly, and a page of them would weigh megabytes. Closes the figure."""
    import io

    from IPython.display import Image

    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=DPI, pil_kwargs={"quality": quality})
    plt.close(fig)
    return Image(data=buffer.getvalue(), format="jpeg")


def setup_style() -> None:
    """Apply the book's matplotlib style (readable sizes, tight layout)."""
    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "font.size": 10,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.autolayout": True,
        }
    )


def image_grid(images: torch.Tensor, nrow: int = 8, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Arrange a batch (N, C, H, W) into one HxWxC array in [0, 1] with torchvision's make_grid."""
    images = images.detach().cpu().float()
    if images.dtype == torch.uint8 or images.max() > 1.5:
        images = images / 255.0
    grid = make_grid(images, nrow=nrow, normalize=value_range is not None, value_range=value_range, pad_value=1.0)
    return grid.permute(1, 2, 0).clamp(0, 1).numpy()


def grid_interpolation(ax: plt.Axes, grid_width: int) -> str:
    """ "nearest" when the axes give each grid pixel at least one screen pixel (flat blocks, true to the data, and
    a PNG that compresses several times better than smoothed upsampling), else matplotlib's "antialiased" (a
    shrunk grid drawn nearest aliases into noise that compresses worse)."""
    fig = ax.figure
    shown = ax.get_position().width * fig.get_figwidth() * fig.dpi
    return "nearest" if shown >= grid_width else "antialiased"


def show_grid(
    ax: plt.Axes, images: torch.Tensor, nrow: int = 8, title: str = "", value_range: tuple[float, float] | None = None
) -> None:
    """Draw a batch of images as one grid on an axis."""
    grid = image_grid(images, nrow=nrow, value_range=value_range)
    ax.imshow(
        grid.squeeze(-1) if grid.shape[-1] == 1 else grid,
        cmap="gray" if grid.shape[-1] == 1 else None,
        interpolation=grid_interpolation(ax, grid.shape[1]),
    )
    ax.set_title(title)
    ax.axis("off")
