"""Shared fixtures: an isolated artifacts/runs folder and the offline data root."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw off-screen

from gancnn.book.paths import project_root


@pytest.fixture
def tmp_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the artifact cache and runs folder at a temporary directory."""
    monkeypatch.setenv("GANCNN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("GANCNN_RUNS", str(tmp_path / "runs"))
    return tmp_path


def _data_root() -> Path:
    """The data root the suite runs against (GANCNN_DATA, as the library reads it)."""
    from gancnn.data import data_root

    return data_root()


@pytest.fixture
def offline_data() -> Path:
    """Skip unless the data root holds the offline copies (CI sets GANCNN_DATA=../shared/data)."""
    root = _data_root()
    if not (root / "MNIST" / "raw").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI run without data: GANCNN_DATA={root} holds no MNIST/raw")
        pytest.skip(f"no offline data under {root}; set GANCNN_DATA")
    return root


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return project_root()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each test with one intra-op thread (small tensors on a shared CPU), restoring the setting after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
