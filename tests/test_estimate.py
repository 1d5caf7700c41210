"""`make full`'s preflight: a lower-bound estimate from measured rates, and a refusal on a CPU."""

from __future__ import annotations

import pytest
import torch

from gancnn.book import estimate


def test_report_sums_known_rates_and_names_unknown_ones() -> None:
    rows = [
        {"work": "train a", "amount": "10 epochs", "seconds": 7200.0},
        {"work": "train b", "amount": "5 steps", "seconds": None},
    ]
    total, table = estimate.report(rows)
    assert total == 7200.0
    assert "2.0 h" in table and "no measured rate" in table


def test_refuses_on_cpu_unless_forced(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    row = {"work": "train x", "amount": "1 epochs", "seconds": 36.0}
    monkeypatch.setattr(estimate, "classifier_rows", lambda: [row])
    monkeypatch.setattr(estimate, "gan_rows", lambda: [])
    assert estimate.main(["--device", "cpu"]) == estimate.REFUSED
    assert "refusing" in capsys.readouterr().err
    assert estimate.main(["--device", "cpu", "--force"]) == 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine: no refusal
    assert estimate.main(["--device", "cuda"]) == 0
    assert estimate.main(["--device", "auto"]) == 0


def test_auto_and_cuda_without_a_gpu_are_refused(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """DEVICE=auto on a CPU-only machine is the CPU (refused unless forced); cuda without one is refused outright."""
    monkeypatch.setattr(estimate, "classifier_rows", lambda: [])
    monkeypatch.setattr(estimate, "gan_rows", lambda: [])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert estimate.main(["--device", "auto"]) == estimate.REFUSED
    assert "refusing to start the full profile on a CPU" in capsys.readouterr().err
    assert estimate.main(["--device", "auto", "--force"]) == 0
    assert estimate.main(["--device", "cuda", "--force"]) == estimate.REFUSED
    err = capsys.readouterr().err.strip()
    assert "torch sees no CUDA GPU" in err and "\n" not in err


def test_rates_come_from_the_stored_reference_runs(offline_data) -> None:
    """Every source network without a stored full run appears, with a rate when its reference run is stored."""
    from gancnn.reference import classifiers

    rows = estimate.classifier_rows()
    for row in rows:
        name = row["work"].removeprefix("train ")
        assert (row["seconds"] is not None) == (classifiers.stored(name) is not None)
    assert {r["work"] for r in estimate.gan_rows()} == {"train dcgan", "train sagan"}
