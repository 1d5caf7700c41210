"""Sphinx extension: what a chapter needs to run, at its top.

Two insertions into each chapter's source (pages with code cells, not the gathering pages):
- under the title, a note with the quick profile's measured run time and whether the full profile needs a GPU,
  from the committed record of a quick build (`artifacts/timings/quick-build.json`, written by `make timings`);
- before the first code cell, a collapsed set-up cell that clones and installs the book when `gancnn` is missing
  (a no-op in the build), so the `.ipynb` a reader downloads runs on Colab, Binder or a bare kernel. It installs
  from the repository `_config.yml` names (`repository.url`, `repository.branch`): the one place.
"""

from __future__ import annotations

from typing import Any

from gancnn.book import student, timings
from gancnn.book.paths import project_root

GATHERING_PAGES = ("intro", "results", "timings", "artifacts", "performance")
CODE_CELL = "```{code-cell} ipython3"


def with_setup_cell(text: str, url: str, branch: str) -> str:
    """The chapter's text with the (hidden) set-up cell before its first code cell."""
    at = text.find(CODE_CELL)
    if at < 0:
        return text
    cell = f"{CODE_CELL}\n:tags: [hide-cell]\n{student.setup_cell_source(url, branch)}\n```\n\n"
    return text[:at] + cell + text[at:]


def _add_header(app: Any, docname: str, source: list[str]) -> None:
    """Insert the run-time note and the set-up cell into a chapter's source."""
    chapter = docname.rsplit("/", 1)[-1]
    if not docname.startswith("book/") or chapter in GATHERING_PAGES or CODE_CELL not in source[0]:
        return
    app.env.note_dependency(str(timings.record_path()))  # re-read the chapter when the record changes
    note = timings.runtime_note(chapter, timings.load_record())
    text = "\n".join(timings.insert_after_title(source[0].split("\n"), note))
    url, branch = student.repository(project_root() / "_config.yml")
    source[0] = with_setup_cell(text, url, branch)


def setup(app: Any) -> dict[str, Any]:
    """Register the source-read hook."""
    app.connect("source-read", _add_header)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
