"""`make run`: jupytext -> papermill with profile parameters, and fast failures on bad requests."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from gancnn.params import ParameterError
from gancnn.runner import main, run_chapter


def test_run_pipeline_with_overrides(tmp_artifacts: Path, offline_data: Path) -> None:
    out = run_chapter("pipeline", "quick", "cpu", overrides={"n_stats": 40, "n_show": 4})
    assert out.parent == tmp_artifacts / "runs" and out.is_file()
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "n_stats = 40" in injected[0].source
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "copy: original MNIST idx files" in text and "computed" in text
    assert (tmp_artifacts / "artifacts" / "quick" / "channel-stats").is_dir()


def test_bad_requests_fail_before_execution(tmp_artifacts: Path) -> None:
    with pytest.raises(ParameterError, match="no chapter"):
        run_chapter("no-such-chapter")
    with pytest.raises(ParameterError, match="unknown profile"):
        run_chapter("pipeline", profile="medium")
    with pytest.raises(ParameterError, match="not in its parameters cell"):
        run_chapter("pipeline", overrides={"n_epochs": 3})
    assert main(["pipeline", "--profile", "medium"]) == 2
    assert not (tmp_artifacts / "runs" / "pipeline-medium.ipynb").exists()


def test_negative_count_stops_in_the_validation_cell(tmp_artifacts: Path, offline_data: Path) -> None:
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="n_stats must be non-negative"):
        run_chapter("pipeline", overrides={"n_stats": -5})
