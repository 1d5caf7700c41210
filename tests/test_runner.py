"""`make run`: jupytext -> papermill with profile parameters, and fast failures on bad requests."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from gancnn.book.params import ParameterError
from gancnn.book.runner import main, run_chapter


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


@pytest.fixture
def no_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any notebook execution fail the test: these requests must be refused before a kernel starts."""
    import papermill

    def refuse(*args, **kwargs):
        raise AssertionError("the chapter was executed although the request should have been refused")

    monkeypatch.setattr(papermill, "execute_notebook", refuse)


@pytest.mark.parametrize("name", ["profile", "device"])
def test_profile_and_device_cannot_be_overridden_by_p(
    tmp_artifacts: Path, no_execution, name: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(ParameterError, match=f"--{name}"):
        run_chapter("pipeline", overrides={name: "full" if name == "profile" else "cuda"})
    assert main(["pipeline", "-p", name, "auto"]) == 2
    assert f"--{name}" in capsys.readouterr().err


def test_profile_file_cannot_set_the_device(
    tmp_path: Path, tmp_artifacts: Path, no_execution, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gancnn.book import params

    bad = tmp_path / "pipeline.yaml"
    bad.write_text("n_stats: 100\ndevice: cuda\n")
    monkeypatch.setattr(params, "profile_file", lambda profile, chapter: bad)
    with pytest.raises(ParameterError, match=f"{bad}.*device.*--device"):
        run_chapter("pipeline", profile="full")


@pytest.mark.parametrize(
    "value, message",
    [
        ("1e9", "out of range"),
        ("2.5", "expected an integer"),
        ("'40'", "expected an integer"),
        ("null", "expected an integer"),
        ("[1, 2", "not valid YAML"),
    ],
)
def test_mistyped_override_fails_before_execution(
    tmp_artifacts: Path, no_execution, value: str, message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["pipeline", "-p", "n_stats", value]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "n_stats" in err and len(err.splitlines()) == 1


def test_integral_override_in_scientific_notation_is_a_count(
    tmp_artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill

    seen = {}

    def record(source, output, parameters, **kwargs):
        seen.update(parameters)
        Path(output).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", record)
    out = run_chapter("pipeline", overrides={"n_stats": 1e3})
    assert seen["n_stats"] == 1000 and type(seen["n_stats"]) is int and out.read_text() == "{}"


def test_failing_cell_gives_one_line_and_exit_2(
    tmp_artifacts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    import gancnn.book.runner as runner

    def fail(source, output, **kwargs):
        Path(output).write_text("{}")
        raise PapermillExecutionError(
            cell_index=2,
            exec_count=3,
            source="cfg = validate(...)",
            ename="ParameterError",
            evalue="parameter n_stats must be non-negative, got -5",
            traceback=["long", "traceback"],
        )

    monkeypatch.setattr(papermill, "execute_notebook", fail)
    assert runner.main(["pipeline"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: pipeline") and "cell 3" in err[-1]
    assert "ParameterError: parameter n_stats must be non-negative, got -5" in err[-1]
    assert "pipeline-quick.failed.ipynb" in err[-1]
