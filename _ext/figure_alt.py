"""Sphinx extension: every image gets real alt text (its figure's caption, else its section's title), not its path.

Images that a code cell draws carry no alt text, and the HTML writer then falls back to the file path, which is
all a screen reader (or a reader whose image failed to load) gets. This fills it in after references resolve.
"""

from __future__ import annotations

import textwrap
from typing import Any

from docutils import nodes

MAX_ALT = 250


def _enclosing(node: nodes.Node, kind: type) -> nodes.Element | None:
    """The nearest ancestor of a type, or None."""
    parent = node.parent
    while parent is not None and not isinstance(parent, kind):
        parent = parent.parent
    return parent


def alt_text(image: nodes.image) -> str:
    """The caption of the image's figure; else 'Output of a code cell in section <title>'; else a generic text."""
    figure = _enclosing(image, nodes.figure)
    caption = next(iter(figure.findall(nodes.caption)), None) if figure is not None else None
    if caption is not None and caption.astext().strip():
        text = caption.astext()
    else:
        section = _enclosing(image, nodes.section)
        title = next(iter(section.findall(nodes.title)), None) if section is not None else None
        text = f"Output of a code cell in section '{title.astext()}'" if title is not None else "Output of a code cell"
    return textwrap.shorten(" ".join(text.split()), MAX_ALT, placeholder=" ...")


def fill_alt_texts(doctree: nodes.document) -> int:
    """Set the alt text of every image without one (or whose alt is its path); return how many were set."""
    count = 0
    for image in doctree.findall(nodes.image):
        alt = image.get("alt", "")
        if not alt or alt == image.get("uri") or alt.endswith((".png", ".svg", ".jpg", ".jpeg", ".gif")):
            image["alt"] = alt_text(image)
            count += 1
    return count


def _on_doctree_resolved(app: Any, doctree: nodes.document, docname: str) -> None:
    """Fill in the page's alt texts."""
    fill_alt_texts(doctree)


def setup(app: Any) -> dict[str, Any]:
    """Register the doctree-resolved hook."""
    app.connect("doctree-resolved", _on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
