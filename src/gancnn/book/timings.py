"""Chapter execution times: read from the jupyter-cache of the last `make book`, recorded, and shown atop each chapter.

`python -m gancnn.book.timings` prints the last build's times; `--write` stores them with the machine and date in
`artifacts/timings/quick-build.json` (committed), which the `chapter_header` Sphinx extension reads to put
"how long this chapter runs, and whether it needs a GPU" at the top of every chapter, and which the student
edition copies into its notebooks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from gancnn.book.paths import project_root

# Chapters whose full profile trains networks at the source's scale: they need a GPU (`make full`).
HEAVY_CHAPTERS = ("optimization-exercises", "adjoint-v1", "adjoint-v2", "adversarial", "dcgan-sagan", "gmm-equivalence")


def chapter_seconds(build_dir: str | Path = "_build") -> dict[str, float]:
    """Return {chapter: seconds} recorded by jupyter-cache during the last book build."""
    from jupyter_cache import get_cache

    cache_dir = project_root() / build_dir / ".jupyter_cache"
    if not cache_dir.is_dir():
        raise FileNotFoundError(f"no jupyter cache at {cache_dir}: run `make book` first")
    records = get_cache(str(cache_dir)).list_cache_records()
    return {Path(r.uri).stem: float(r.data.get("execution_seconds", float("nan"))) for r in records}


def record_path(root: Path | None = None) -> Path:
    """Where the committed record of the quick build's chapter times lives."""
    return (root or project_root()) / "artifacts" / "timings" / "quick-build.json"


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU model name from /proc/cpuinfo (platform's processor string where it is unreadable)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_description() -> str:
    """The CPU model and core count of this machine, in words."""
    return f"{cpu_model()}, {os.cpu_count()} CPU cores, no GPU"


def make_record(seconds: dict[str, float], machine: str, date: str) -> dict[str, Any]:
    """The record of one build: chapter times (s), the machine and the date."""
    bad = {k: v for k, v in seconds.items() if not isinstance(v, float) or v != v or v < 0}
    if bad:
        raise ValueError(f"chapter times must be non-negative seconds, got {bad}")
    return {"profile": "quick", "machine": machine, "date": date, "seconds": dict(sorted(seconds.items()))}


def write_record(build_dir: str | Path = "_build", path: Path | None = None) -> Path:
    """Store the last build's chapter times with this machine and today's date."""
    record = make_record(chapter_seconds(build_dir), machine_description(), dt.date.today().isoformat())
    path = path or record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_record(path: Path | None = None) -> dict[str, Any] | None:
    """The committed record, or None when no build has been recorded."""
    path = path or record_path()
    return json.loads(path.read_text()) if path.exists() else None


def duration_words(seconds: float) -> str:
    """'under a minute', 'about 4 minutes', 'about 1.5 hours'."""
    if seconds < 60:
        return "under a minute"
    if seconds < 5400:
        minutes = round(seconds / 60)
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    return f"about {seconds / 3600:.1f} hours"


def runtime_note(chapter: str, record: dict[str, Any] | None) -> str:
    """A MyST admonition: the quick profile's run time in the recorded build (dated); where the full profile runs."""
    seconds = None if record is None else record["seconds"].get(chapter)
    if seconds is None:
        quick = "Quick profile: its run time has not been recorded yet (`make book`, then `make timings`)."
    else:
        quick = (
            f"Quick profile: {duration_words(seconds)} ({seconds:.0f} s in the recorded build of {record['date']} on "
            f"{record['machine']}; a build on a machine busy with other work takes longer); it runs on a laptop."
        )
    full = (
        f"Full profile: needs a GPU (`make run CHAPTER={chapter} PROFILE=full DEVICE=cuda`)."
        if chapter in HEAVY_CHAPTERS
        else f"Full profile: runs on a laptop too (`make run CHAPTER={chapter} PROFILE=full`)."
    )
    return f":::{{admonition}} Running this chapter\n:class: tip\n{quick} {full}\n:::"


def insert_after_title(lines: list[str], note: str) -> list[str]:
    """The chapter's lines with the note after its first level-one heading (unchanged when there is none)."""
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return [*lines[: i + 1], "", *note.split("\n"), "", *lines[i + 1 :]]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print a markdown table of the last build's chapter times, or store them (--write)."""
    parser = argparse.ArgumentParser(prog="python -m gancnn.book.timings", description=__doc__)
    parser.add_argument("--write", action="store_true", help="store the times in artifacts/timings/")
    args = parser.parse_args(argv)
    if args.write:
        print(f"chapter times stored in {write_record()}")
        return 0
    times = chapter_seconds()
    print("| page | quick-profile execution (s) |\n| --- | --- |")
    for name, seconds in sorted(times.items()):
        print(f"| {name} | {seconds:.0f} |")
    print(f"| total | {sum(times.values()):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
