"""Where the project lives on disk: root, artifacts, runs."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """Return the repository root (env GANCNN_ROOT, else the checkout holding this package, else cwd)."""
    env = os.environ.get("GANCNN_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "gancnn").is_dir():
            return parent
    return Path.cwd().resolve()


def resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve a path relative to the project root (absolute paths are kept)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (project_root() / p).resolve()


def artifacts_dir() -> Path:
    """Return the folder of stored results (env GANCNN_ARTIFACTS, default `artifacts/`)."""
    return resolve(os.environ.get("GANCNN_ARTIFACTS", "artifacts"))


def runs_dir() -> Path:
    """Return the folder for executed notebooks and checkpoints (env GANCNN_RUNS, default `runs/`)."""
    return resolve(os.environ.get("GANCNN_RUNS", "runs"))
