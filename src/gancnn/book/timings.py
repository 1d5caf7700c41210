"""Report each chapter's execution time from the jupyter-cache of the last `make book` (for the landing page)."""

from __future__ import annotations

import sys
from pathlib import Path

from gancnn.book.paths import project_root


def chapter_seconds(build_dir: str | Path = "_build") -> dict[str, float]:
    """Return {chapter: seconds} recorded by jupyter-cache during the last book build."""
    from jupyter_cache import get_cache

    cache_dir = project_root() / build_dir / ".jupyter_cache"
    if not cache_dir.is_dir():
        raise FileNotFoundError(f"no jupyter cache at {cache_dir}: run `make book` first")
    records = get_cache(str(cache_dir)).list_cache_records()
    return {Path(r.uri).stem: float(r.data.get("execution_seconds", float("nan"))) for r in records}


def main() -> int:
    """Print a markdown table of chapter execution times."""
    times = chapter_seconds()
    print("| page | quick-profile execution (s) |\n| --- | --- |")
    for name, seconds in sorted(times.items()):
        print(f"| {name} | {seconds:.0f} |")
    print(f"| total | {sum(times.values()):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
