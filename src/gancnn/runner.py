"""`make run`: convert a chapter with jupytext and execute it with papermill on a profile."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .params import PROFILES, ParameterError, load_profile, resolve_device
from .paths import project_root, runs_dir


def chapter_source(chapter: str) -> Path:
    """Return book/<chapter>.md, failing with the list of chapters when it does not exist."""
    book = project_root() / "book"
    src = book / f"{chapter}.md"
    if not src.is_file():
        known = sorted(p.stem for p in book.glob("*.md"))
        raise ParameterError(f"no chapter {chapter!r} (looked for {src}); chapters: {known}")
    return src


def notebook_parameters(src: Path) -> dict[str, Any]:
    """Return the names and defaults papermill finds in a chapter's parameters cell."""
    import jupytext
    import papermill

    tmp = runs_dir() / f".{src.stem}.inspect.ipynb"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(jupytext.read(src), tmp)
    try:
        return papermill.inspect_notebook(str(tmp))
    finally:
        tmp.unlink(missing_ok=True)


def run_chapter(chapter: str, profile: str = "quick", device: str = "cpu", overrides: dict[str, Any] | None = None) -> Path:
    """Execute one chapter on a profile; return the path of the executed notebook under runs/."""
    import jupytext
    import papermill

    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    resolve_device(device)
    src = chapter_source(chapter)
    params = {**load_profile(profile, chapter), **(overrides or {}), "profile": profile, "device": device}
    known = notebook_parameters(src)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ParameterError(f"{chapter}: parameters {unknown} are not in its parameters cell {sorted(known)}")
    out_dir = runs_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    source_nb = out_dir / f"{chapter}.source.ipynb"
    jupytext.write(jupytext.read(src), source_nb)
    output = out_dir / f"{chapter}-{profile}.ipynb"
    start = time.perf_counter()
    papermill.execute_notebook(str(source_nb), str(output), parameters=params, cwd=str(src.parent),
                               kernel_name="python3", progress_bar=True)
    source_nb.unlink(missing_ok=True)
    print(f"{chapter} ({profile}, {device}) executed in {time.perf_counter() - start:.1f} s -> {output}")
    return output


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: gancnn-run CHAPTER [--profile P] [--device D] [-p name value]."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("chapter")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="override one parameter (value parsed as YAML)")
    args = ap.parse_args(argv)
    import yaml

    overrides = {name: yaml.safe_load(value) for name, value in args.param}
    try:
        run_chapter(args.chapter, args.profile, args.device, overrides)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
