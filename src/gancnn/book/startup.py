"""The chapter start-up: one call after the parameters cell validates every knob and prepares the kernel.

`cfg = start_chapter("adjoint-v1", globals(), zero_ok=("class_v1",))` reads the names, defaults and
comments of the chapter's own parameters cell (`book/<chapter>.md`), so every knob is named once,
there. Each knob gets the type of its default (`gancnn.book.params.check_types`; a comment that
mentions None makes it nullable); every numeric knob except `seed`, `threads` and those in
`zero_ok` must be strictly positive; `choices` restricts values (or list elements) to allowed sets.
Then it seeds every generator, sets torch's CPU threads from `threads` (0: torch's default), applies
the plot style (and inline figures in a kernel), silences the known-harmless warnings, and starts
the chapter clock (`elapsed()`).

Outside the repository (a notebook downloaded alone), the parameters cell is not on disk: the knobs
are then the simple values (numbers, strings, lists, None) in the namespace, checked by value only.
"""

from __future__ import annotations

import ast
import numbers
import os
import re
import sys
import time
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch

from gancnn.book import plots
from gancnn.book.params import ParameterError, RunConfig, validate
from gancnn.book.paths import project_root
from gancnn.book.seed import seed_everything

ALWAYS_ZERO_OK = ("seed", "threads")
PARAMETERS_CELL = re.compile(r"```\{code-cell\}[^\n]*\n:tags: \[parameters\]\n(.*?)```", re.S)
IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "display"}
HARMLESS_WARNINGS = (
    (FutureWarning, r".*torch\.jit.*|.*functorch.*|.*torch\.func.*"),  # deprecation notices raised inside torch.func
    (UserWarning, r".*TypedStorage is deprecated.*"),
    (Warning, r"IProgress not found.*"),  # tqdm.auto (imported by Captum) in a kernel without ipywidgets
)
_clock = {"start": time.perf_counter()}


def parameters_cell(chapter: str, root: Path | None = None) -> dict[str, tuple[Any, str]] | None:
    """{knob: (literal default or None, comment)} of a chapter's parameters cell; None when the file is absent."""
    path = (root or project_root()) / "book" / f"{chapter}.md"
    if not path.is_file():
        return None
    match = PARAMETERS_CELL.search(path.read_text())
    if match is None:
        raise ParameterError(f"{path} has no cell tagged 'parameters'")
    source = match.group(1)
    lines = source.splitlines()
    knobs: dict[str, tuple[Any, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                default = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError):
                default = None  # an expression: no type to take from it
            line = lines[node.end_lineno - 1]
            comment = line.split("#", 1)[1].strip() if "#" in line[node.end_col_offset :] else ""
            knobs[node.targets[0].id] = (default, comment)
    return knobs


def knobs_in_namespace(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The simple values of a namespace (the fallback when the parameters cell is not on disk)."""
    simple = (bool, numbers.Number, str, list, tuple, type(None))
    return {
        k: v
        for k, v in namespace.items()
        if not k.startswith("_") and k not in IPYTHON_NAMES and isinstance(v, simple) and not re.match(r"_i\d*$", k)
    }


def _check_positive(cfg: Mapping[str, Any], zero_ok: Collection[str]) -> None:
    """Every numeric knob (and list element) must be > 0 unless it may be zero."""
    for name, value in cfg.items():
        if name in zero_ok or name in ALWAYS_ZERO_OK:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, numbers.Real) and not isinstance(item, bool) and not item > 0:
                raise ParameterError(f"parameter {name} must be positive, got {value!r}")


def _check_choices(cfg: Mapping[str, Any], choices: Mapping[str, Collection[Any]]) -> None:
    """Values (or every list element) must come from the allowed set."""
    for name, allowed in choices.items():
        value = cfg[name]
        items = value if isinstance(value, (list, tuple)) else [value]
        bad = [v for v in items if v not in allowed]
        if bad:
            raise ParameterError(f"parameter {name} = {value!r}: {bad} not allowed; choose from {sorted(allowed)}")


def inline_figures_in_kernel() -> None:
    """Inside a Jupyter kernel, draw figures inline even when MPLBACKEND=Agg leaked from the shell."""
    if "ipykernel" not in sys.modules or os.environ.get("MPLBACKEND", "").lower() != "agg":
        return
    os.environ.pop("MPLBACKEND")
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")


def glue_quotes_in_kernel() -> None:
    """Inside a Jupyter kernel, glue every quoted source number (`gancnn.quotes`) for the prose to paste."""
    if "ipykernel" not in sys.modules:
        return
    from gancnn import quotes

    quotes.glue_all()


def quiet_known_warnings() -> None:
    """Silence warnings that torch raises internally and that say nothing about the chapter's results."""
    for category, pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=category)


def start_chapter(
    chapter: str,
    namespace: Mapping[str, Any],
    *,
    zero_ok: Collection[str] = (),
    choices: Mapping[str, Collection[Any]] | None = None,
) -> RunConfig:
    """Validate the parameters cell's knobs, seed, set threads, style plots, quiet warnings, start the clock."""
    spec = parameters_cell(chapter)
    if spec is None:
        values, defaults, nullable = knobs_in_namespace(namespace), None, ()
    else:
        missing = sorted(set(spec) - set(namespace))
        if missing:
            raise ParameterError(f"{chapter}: knobs {missing} of the parameters cell are not defined")
        values = {k: namespace[k] for k in spec}
        defaults = {k: d for k, (d, _) in spec.items()}
        nullable = {k for k, (d, comment) in spec.items() if d is None or re.search(r"\bNone\b", comment)}
    unknown_zero_ok = sorted(set(zero_ok) - set(values))
    if unknown_zero_ok:
        raise ParameterError(f"{chapter}: zero_ok names {unknown_zero_ok}, which are not knobs")
    cfg = validate(**values, defaults=defaults, nullable=nullable)
    _check_positive(cfg, zero_ok)
    _check_choices(cfg, choices or {})
    seed_everything(cfg.seed)
    if int(cfg.get("threads", 0) or 0) > 0:
        torch.set_num_threads(int(cfg.threads))
    inline_figures_in_kernel()
    plots.setup_style()
    quiet_known_warnings()
    glue_quotes_in_kernel()
    _clock["start"] = time.perf_counter()
    return cfg


def elapsed() -> float:
    """Seconds since the last start_chapter call (the chapter's own execution time)."""
    return time.perf_counter() - _clock["start"]
