"""The committed artifacts keep to the repository's size budget: each file at most 10 MB, all of them 100 MB."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILE_LIMIT = 10 * 10**6
TOTAL_LIMIT = 100 * 10**6


def committed_artifacts() -> list[Path]:
    """The files under artifacts/ that git tracks (or has staged) in this checkout."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "artifacts"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_every_committed_artifact_is_at_most_10_mb_and_all_at_most_100_mb() -> None:
    files = committed_artifacts()
    assert files, "no committed artifacts found"
    too_big = {str(f.relative_to(ROOT)): f.stat().st_size for f in files if f.stat().st_size > FILE_LIMIT}
    assert not too_big, f"files over 10 MB: {too_big}"
    total = sum(f.stat().st_size for f in files)
    assert total <= TOTAL_LIMIT, f"artifacts/ holds {total / 1e6:.1f} MB, over the 100 MB budget"
