"""Sphinx extension: re-read the pages that gather other pages' results on every build.

The claims ledger, the build timings and the landing page (which pastes the ledger's counts) read
what the chapters of this build produced, so an incremental build must not keep their old output
when only a chapter changed. Sphinx reads pages in name order, so these sort after the chapters.
"""

from __future__ import annotations

from typing import Any

GATHERING_PAGES = ("book/intro", "book/results", "book/timings")


def _always_outdated(app: Any, env: Any, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """The gathering pages that exist, to be read again."""
    return [doc for doc in GATHERING_PAGES if doc in env.found_docs and doc not in added | changed]


def setup(app: Any) -> dict[str, Any]:
    """Register the env-get-outdated hook."""
    app.connect("env-get-outdated", _always_outdated)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
