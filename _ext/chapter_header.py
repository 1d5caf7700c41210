"""Sphinx extension: at the top of every chapter, how long it runs here and whether its full profile needs a GPU.

The times are the committed record of a quick build (`artifacts/timings/quick-build.json`, written by
`make timings` after `make book`); the note is inserted into the source after the chapter's title.
"""

from __future__ import annotations

from typing import Any

from gancnn.book import timings

GATHERING_PAGES = ("intro", "results", "timings", "artifacts")


def _add_note(app: Any, docname: str, source: list[str]) -> None:
    """Insert the run-time note into a chapter's source (pages with code cells, not the gathering pages)."""
    chapter = docname.rsplit("/", 1)[-1]
    if not docname.startswith("book/") or chapter in GATHERING_PAGES or "{code-cell}" not in source[0]:
        return
    app.env.note_dependency(str(timings.record_path()))  # re-read the chapter when the record changes
    note = timings.runtime_note(chapter, timings.load_record())
    source[0] = "\n".join(timings.insert_after_title(source[0].split("\n"), note))


def setup(app: Any) -> dict[str, Any]:
    """Register the source-read hook."""
    app.connect("source-read", _add_note)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
