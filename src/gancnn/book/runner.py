"""`make run`: convert a chapter with jupytext and execute it with papermill on a profile.

Before a kernel starts, every override (profile file and `-p`) is checked against the type of its default in
the chapter's parameters cell, and `profile`/`device` may only come from `--profile`/`--device`. The executed
notebook is written beside its final name and renamed in on success; a failed run leaves the previous good
`runs/<chapter>-<profile>.ipynb` alone and keeps its own notebook as `<chapter>-<profile>.failed.ipynb`.
A run's temporaries (`.<chapter>.<pid>.source.ipynb`, `.<chapter>-<profile>.<pid>.partial.ipynb`) that a killed
run left behind are removed when the next run starts.
Exit codes: 0 success, 2 a ParameterError (before execution or in the chapter's validation cell), 1 another
error in a cell.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from gancnn.book.cache import remove_dead_temporaries
from gancnn.book.params import (
    PROFILES,
    ParameterError,
    check_types,
    parse_yaml,
    refuse_runner_keys,
    resolve_device,
    run_profile,
)
from gancnn.book.paths import project_root, runs_dir

_RUN_TEMP = re.compile(r"^\..+\.(?P<pid>\d+)\.(?:source|partial)\.ipynb$")  # a run's notebooks, named by its pid


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


def parameter_spec(known: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Return a parameters cell's literal defaults and its nullable knobs (default None, or None in the comment)."""
    defaults, nullable = {}, set()
    for name, info in known.items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue  # an expression: its type is left to the chapter's own checks
        if defaults[name] is None or re.search(r"\bNone\b", info.get("help") or ""):
            nullable.add(name)
    return defaults, nullable


def failed_notebook(chapter: str, profile: str) -> Path:
    """Return where the executed notebook of a failed run is kept."""
    return runs_dir() / f"{chapter}-{profile}.failed.ipynb"


def remove_stale_notebooks(folder: Path) -> list[Path]:
    """Remove the source and partial notebooks of killed runs (dead pid) from a runs folder; return them."""
    return remove_dead_temporaries(folder, _RUN_TEMP)


def run_chapter(
    chapter: str, profile: str = "quick", device: str = "cpu", overrides: dict[str, Any] | None = None
) -> Path:
    """Execute one chapter on a profile; return the path of the executed notebook under runs/."""
    import jupytext
    import papermill

    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    resolve_device(device)
    src = chapter_source(chapter)
    overrides = dict(overrides or {})
    refuse_runner_keys(overrides, "-p")
    params = {**run_profile(profile, chapter), **overrides}
    known = notebook_parameters(src)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ParameterError(f"{chapter}: parameters {unknown} are not in its parameters cell {sorted(known)}")
    params = {**check_types(params, *parameter_spec(known)), "profile": profile, "device": device}
    out_dir = runs_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_notebooks(out_dir)
    source_nb = out_dir / f".{chapter}.{os.getpid()}.source.ipynb"
    partial = out_dir / f".{chapter}-{profile}.{os.getpid()}.partial.ipynb"
    output, failed = out_dir / f"{chapter}-{profile}.ipynb", failed_notebook(chapter, profile)
    jupytext.write(jupytext.read(src), source_nb)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source_nb),
            str(partial),
            parameters=params,
            cwd=str(src.parent),
            kernel_name="python3",
            progress_bar=True,
        )
    except BaseException:
        if partial.exists():
            os.replace(partial, failed)
        raise
    finally:
        source_nb.unlink(missing_ok=True)
    os.replace(partial, output)
    failed.unlink(missing_ok=True)
    print(f"{chapter} ({profile}, {device}) executed in {time.perf_counter() - start:.1f} s -> {output}")
    return output


def _cell_error(chapter: str, profile: str, exc: Any) -> str:
    """Return the one-line report of a cell that raised during a run."""
    evalue = (str(exc.evalue).strip().splitlines() or [""])[0]
    return (
        f"{chapter} ({profile}) stopped in cell {exc.exec_count}: {exc.ename}: {evalue} "
        f"(executed notebook: {failed_notebook(chapter, profile)})"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: gancnn-run CHAPTER [--profile P] [--device D] [-p name value]."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("chapter")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override one parameter (value parsed as YAML)",
    )
    args = ap.parse_args(argv)
    from papermill.exceptions import PapermillExecutionError

    try:
        overrides = {name: parse_yaml(value, f"-p {name} {value!r}") for name, value in args.param}
        run_chapter(args.chapter, args.profile, args.device, overrides)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PapermillExecutionError as exc:
        print(f"error: {_cell_error(args.chapter, args.profile, exc)}", file=sys.stderr)
        return 2 if exc.ename == "ParameterError" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
