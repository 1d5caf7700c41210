"""Small display helpers shared by the chapters: images for imshow and reader-visible notices."""

from __future__ import annotations

import html
import sys

import numpy as np
import torch

KINDS = ("note", "warning", "important")


def to_display(h: torch.Tensor) -> np.ndarray:
    """Rescale a (C, H, W) map to [0, 1] as an (H, W, C) array for imshow."""
    h = h.detach().float()
    h = h - h.min()
    return (h / h.max().clamp_min(1e-12)).permute(1, 2, 0).numpy()


def admonition_html(kind: str, title: str, text: str) -> str:
    """HTML of a Sphinx-styled admonition box (renders like a MyST admonition on the built page)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return (
        f'<div class="admonition {kind}"><p class="admonition-title">{html.escape(title)}</p>'
        f"<p>{html.escape(text)}</p></div>"
    )


def notice(kind: str, title: str, text: str) -> None:
    """Show an admonition in the executed page (and plain text in a terminal)."""
    from IPython.display import HTML, display

    display(HTML(admonition_html(kind, title, text)))


def plural(count: int, noun: str, many: str = "") -> str:
    """The count and its noun in the right number: '1 epoch', '3 epochs' (`many` for an irregular plural)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


class GluedText(str):
    """Text that was glued: an ordinary `str`, except that as a cell's last value the page shows nothing."""

    def _ipython_display_(self) -> None:
        """Show nothing: the text appears where the prose cites it with `{glue:text}`."""


def glue_text(key: str, value: object, fmt: str = "") -> GluedText:
    """Glue `value` formatted by `fmt` as text for `{glue:text}` in the prose (inside a kernel); return the text."""
    text = format(value, fmt) if fmt else str(value)
    if "ipykernel" in sys.modules:
        from myst_nb import glue

        glue(key, text, display=False)
    return GluedText(text)
