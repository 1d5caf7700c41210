"""Sphinx extension: the Colab launch button opens the chapter's notebook edition, not its MyST source.

Colab cannot open a MyST `.md` file. `make student` writes every chapter as a launchable `.ipynb` (a set-up cell
that installs the book first) into `_build/notebooks/`; committed as `book/<chapter>.ipynb` on the branch named
by `gancnn_notebooks_branch` (default "notebooks"), that is what the button points at. Binder opens the `.md`
itself through jupytext (see `postBuild`).
"""

from __future__ import annotations

from typing import Any


def colab_notebook_url(url: str, branch: str, notebooks_branch: str) -> str:
    """Rewrite a Colab URL .../blob/<branch>/<path>.md to .../blob/<notebooks_branch>/<path>.ipynb."""
    marker = f"/blob/{branch}/"
    if marker not in url:
        raise ValueError(f"not a Colab URL for branch {branch!r}: {url}")
    head, path = url.split(marker, 1)
    return f"{head}/blob/{notebooks_branch}/{path.removesuffix('.md')}.ipynb"


def _point_colab_at_notebooks(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """After the theme built its launch buttons, send Colab to the notebook edition."""
    options = app.config.html_theme_options
    branch = options.get("repository_branch") or "master"
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab" and button.get("url", "").endswith(".md"):
                button["url"] = colab_notebook_url(button["url"], branch, app.config.gancnn_notebooks_branch)


def setup(app: Any) -> dict[str, Any]:
    """Register the option and the hook (after sphinx-book-theme's, which runs at priority 501)."""
    app.add_config_value("gancnn_notebooks_branch", "notebooks", "html")
    app.connect("html-page-context", _point_colab_at_notebooks, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
