"""Write the student edition (`make student`): each chapter with exercises as a notebook without its solutions.

For every chapter of book/ with sphinx-exercise blocks: `_build/student/<chapter>.ipynb` (solutions removed,
gated solutions with their code cells too, a stub cell after each exercise) and
`_build/student/solutions/<chapter>.md` (that chapter's exercises with their solutions); and every chapter as a
launchable notebook with its solutions in `_build/notebooks/<chapter>.ipynb` (what the Colab button opens once
committed to the notebooks branch). Each notebook starts with a set-up cell that installs the book from the
repository `_config.yml` names when `gancnn` is missing. One line per chapter;
a solution that points at an unknown exercise label (or another broken block) stops it with a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gancnn.book import timings
from gancnn.book.paths import project_root
from gancnn.book.student import (
    StudentError,
    chapters_with_exercises,
    repository,
    summary,
    write_chapter,
    write_notebook_edition,
)


def main(argv: list[str] | None = None) -> int:
    """Parse the chapters, write the notebooks and the solutions, print one line per chapter."""
    root = project_root()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=root / "book", help="folder of the MyST chapters")
    parser.add_argument("--out", type=Path, default=root / "_build" / "student", help="output folder")
    parser.add_argument(
        "--notebooks", type=Path, default=root / "_build" / "notebooks", help="folder of the launchable full edition"
    )
    parser.add_argument("--config", type=Path, default=root / "_config.yml", help="the book's configuration")
    args = parser.parse_args(argv)
    try:
        url, branch = repository(args.config)
        chapters = chapters_with_exercises(args.book)
    except StudentError as err:
        print(f"student: {err}", file=sys.stderr)
        return 1
    record = timings.load_record()
    args.out.mkdir(parents=True, exist_ok=True)
    for chapter in chapters:
        notebook, _ = write_chapter(chapter, args.out, url, branch, record)
        print(summary(chapter, notebook.relative_to(root) if notebook.is_relative_to(root) else notebook))
    full = write_notebook_edition(args.book, args.notebooks, url, branch, record)
    print(f"launchable edition: {len(full)} chapter notebooks in {args.notebooks} (installs from {url}@{branch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
