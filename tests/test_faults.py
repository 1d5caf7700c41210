"""Fault injection: concurrent and killed cache writers, stale temporaries, checkpoints, bad YAML, failed runs.

The cache workers run in forked processes (no torch work in them, so no thread pool is inherited in use);
each writes a small JSON report that the test reads back, so a crash or a hang shows as a clear failure.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from gancnn.book import cache, params
from gancnn.book.params import ParameterError
from gancnn.train import run_loop

FORK = mp.get_context("fork")
CONFIG = {"a": 1, "tag": "race"}


def _experiment_dir(root: Path, experiment: str = "race") -> Path:
    """The folder holding one experiment's entries."""
    return root / "artifacts" / "quick" / experiment


def _hidden(folder: Path) -> list[str]:
    """Names of hidden files and folders (temporaries, locks) in an experiment folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _report(path: str, **fields: object) -> None:
    """Write a worker's outcome for the parent to read."""
    Path(path).write_text(json.dumps(fields))


def _join_all(procs: list, timeout: float = 90.0) -> None:
    """Wait for worker processes, killing and failing on any that hang."""
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    hung = [p.pid for p in procs if p.is_alive()]
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert not hung, f"worker processes {hung} hung (deadlock?)"


def _cached_worker(barrier, counter: str, out: str) -> None:
    """Call cached() on the shared key with a slow compute that logs each call."""

    def compute() -> dict:
        with open(counter, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        return {"acc": 0.5, "curve": np.arange(3.0)}

    try:
        barrier.wait(timeout=60)
        res = cache.cached("quick", "race", CONFIG, compute)
        ok = res["acc"] == 0.5 and res["curve"].tolist() == [0.0, 1.0, 2.0]
        _report(out, ok=bool(ok), cached=res["_cached"])
    except BaseException as exc:  # noqa: BLE001 - the parent reports it
        _report(out, ok=False, error=f"{type(exc).__name__}: {exc}")


def test_four_processes_compute_once(tmp_artifacts: Path) -> None:
    counter = tmp_artifacts / "calls.txt"
    barrier = FORK.Barrier(4)
    outs = [tmp_artifacts / f"out{i}.json" for i in range(4)]
    procs = [FORK.Process(target=_cached_worker, args=(barrier, str(counter), str(o))) for o in outs]
    for proc in procs:
        proc.start()
    _join_all(procs)
    reports = [json.loads(o.read_text()) for o in outs]
    assert all(r["ok"] for r in reports), reports
    assert len(counter.read_text().split()) == 1, "compute() ran more than once"
    assert sorted(r["cached"] for r in reports) == [False, True, True, True]
    folder = _experiment_dir(tmp_artifacts)
    assert sorted(p.name for p in folder.iterdir()) == [cache.config_key(CONFIG)], "temporaries or locks left"


def _slow_replace_writer(out: str, rounds: int) -> None:
    """Overwrite the entry several times, pausing inside each swap so readers can look at the gap."""
    real = os.replace

    def slow(src, dst) -> None:
        time.sleep(0.3)
        real(src, dst)

    os.replace = slow
    try:
        for i in range(rounds):
            cache.save("quick", "race", CONFIG, {"x": i + 1}, wall_time_s=0.0)
        _report(out, ok=True)
    except BaseException as exc:  # noqa: BLE001
        _report(out, ok=False, error=f"{type(exc).__name__}: {exc}")


def _reader(done: str, out: str) -> None:
    """Load the entry until the writer is done; every load must give a whole, valid result."""
    seen, errors = set(), []
    while not Path(done).exists():
        try:
            hit = cache.load("quick", "race", CONFIG)
            seen.add(None if hit is None else hit["x"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.01)
    _report(out, seen=sorted(seen, key=str), errors=errors[:3])


def test_readers_never_see_a_half_replaced_entry(tmp_artifacts: Path) -> None:
    cache.save("quick", "race", CONFIG, {"x": 0}, wall_time_s=0.0)
    done = tmp_artifacts / "done"
    outs = [tmp_artifacts / f"reader{i}.json" for i in range(2)]
    readers = [FORK.Process(target=_reader, args=(str(done), str(o))) for o in outs]
    writer_out = tmp_artifacts / "writer.json"
    writer = FORK.Process(target=_slow_replace_writer, args=(str(writer_out), 3))
    for proc in readers:
        proc.start()
    writer.start()
    _join_all([writer])
    done.touch()
    _join_all(readers)
    assert json.loads(writer_out.read_text())["ok"], writer_out.read_text()
    for out in outs:
        report = json.loads(out.read_text())
        assert not report["errors"], report["errors"]
        assert None not in report["seen"], "a reader found the entry missing while it was being replaced"
    assert cache.load("quick", "race", CONFIG)["x"] == 3


def _killed_writer(flag: str, stage: str) -> None:
    """Save an entry but stop for good at `stage` ('write': files half written, 'swap': old entry set aside)."""
    if stage == "write":
        real_write = cache._write

        def write_then_hang(folder, result) -> None:
            real_write(folder, result)
            Path(flag).touch()
            time.sleep(120)

        cache._write = write_then_hang
    else:

        def hang(src, dst) -> None:
            Path(flag).touch()
            time.sleep(120)

        os.replace = hang
    cache.save("quick", "race", CONFIG, {"x": 2}, wall_time_s=0.0)


def _kill_during_save(root: Path, stage: str) -> None:
    """Start a writer, SIGKILL it at the given stage, and reap it."""
    flag = root / f"flag-{stage}"
    proc = FORK.Process(target=_killed_writer, args=(str(flag), stage))
    proc.start()
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline and proc.is_alive():
        time.sleep(0.02)
    assert flag.exists(), "the writer never reached the injected fault"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()


def test_killed_save_leaves_no_temporary_behind(tmp_artifacts: Path) -> None:
    _kill_during_save(tmp_artifacts, "write")
    folder = _experiment_dir(tmp_artifacts)
    assert _hidden(folder), "the injected kill left no temporary folder (nothing tested)"
    calls = []
    out = cache.cached("quick", "race", CONFIG, lambda: calls.append(1) or {"x": 5})  # the lock died with it
    assert out["x"] == 5 and calls == [1]
    assert _hidden(folder) == [], "the killed writer's temporary folder was not cleaned"


def test_killed_swap_keeps_the_previous_entry(tmp_artifacts: Path) -> None:
    cache.save("quick", "race", CONFIG, {"x": 1}, wall_time_s=0.0)
    _kill_during_save(tmp_artifacts, "swap")
    hit = cache.load("quick", "race", CONFIG)
    assert hit is not None and hit["x"] == 1, "a killed overwrite lost the stored entry"
    assert _hidden(_experiment_dir(tmp_artifacts)) == []


def test_stale_temporaries_are_cleaned_fresh_ones_of_live_writers_kept(tmp_artifacts: Path) -> None:
    cache.save("quick", "race", CONFIG, {"x": 1}, wall_time_s=0.0)
    folder = _experiment_dir(tmp_artifacts)
    key = cache.config_key(CONFIG)
    other = cache.config_key({"b": 2})
    dead = folder / f".{key}.{_dead_pid()}.new-abc123"
    old_style = folder / f".{other}.k3j_x9a2"  # a temporary of the previous code: no pid in the name
    fresh_old_style = folder / f".{other}.zzzz1111"
    live = folder / f".{other}.{os.getpid()}.new-def456"
    for tmp in (dead, old_style, fresh_old_style, live):
        tmp.mkdir()
        (tmp / "result.json").write_text("{")
    hour_ago = time.time() - 3600
    os.utime(old_style, (hour_ago, hour_ago))
    assert cache.load("quick", "race", CONFIG)["x"] == 1
    assert _hidden(folder) == sorted([fresh_old_style.name, live.name])


def test_entry_holding_another_config_is_refused(tmp_artifacts: Path) -> None:
    cache.save("quick", "race", CONFIG, {"x": 1}, wall_time_s=0.0)
    prov_path = cache.entry_dir("quick", "race", CONFIG) / "provenance.json"
    prov = json.loads(prov_path.read_text())
    prov["config"] = {"a": 2, "tag": "race"}
    prov_path.write_text(json.dumps(prov))
    with pytest.raises(cache.CacheCorruptedError) as err:
        cache.load("quick", "race", CONFIG)
    assert '"a":2' in str(err.value) and '"a":1' in str(err.value)


def test_normalised_configs_still_match(tmp_artifacts: Path) -> None:
    config = {"sizes": (1, 2), "n": np.int64(3), "lr": np.float32(0.5), "device": Path("/x")}
    cache.save("quick", "norm", config, {"x": 1}, wall_time_s=0.0)
    assert cache.load("quick", "norm", config)["x"] == 1


def test_compute_reentering_its_own_entry_fails_instead_of_hanging(tmp_artifacts: Path) -> None:
    def compute() -> dict:
        return cache.cached("quick", "race", CONFIG, lambda: {"x": 1})

    with pytest.raises(RuntimeError, match="already"):
        cache.cached("quick", "race", CONFIG, compute)


# --- training checkpoints inside cached() -------------------------------------------------------------------

N_STEPS = 4


def _training(checkpoint: Path, steps_run: list[int], fail: bool = False) -> Callable[[], dict]:
    """A compute() training with run_loop on a checkpoint, logging the steps that ran; `fail` raises after it."""

    def compute() -> dict:
        step = lambda i: steps_run.append(i) or {"v": float(i)}  # noqa: E731
        history = run_loop(
            step, N_STEPS, {"lin": torch.nn.Linear(2, 1)}, checkpoint=checkpoint, every=2, progress=False
        )
        if fail:
            raise RuntimeError("the final evaluation failed")
        return {"v": [h["v"] for h in history]}

    return compute


def test_stored_result_ends_its_checkpoint_so_a_deleted_entry_is_recomputed(tmp_artifacts: Path) -> None:
    checkpoint = tmp_artifacts / "runs" / "checkpoints" / "train.pt"
    first, again = [], []
    assert cache.cached("quick", "train", CONFIG, _training(checkpoint, first))["v"] == [0.0, 1.0, 2.0, 3.0]
    assert first == [0, 1, 2, 3] and not checkpoint.exists(), "the stored result's checkpoint was kept"
    shutil.rmtree(cache.entry_dir("quick", "train", CONFIG))  # what a corruption error tells the reader to do
    out = cache.cached("quick", "train", CONFIG, _training(checkpoint, again))
    assert again == [0, 1, 2, 3], "a finished checkpoint stood in for the recomputation"
    assert "resumed_from_step" not in out["_provenance"] and not checkpoint.exists()


def test_failed_compute_keeps_its_checkpoint_and_the_retry_records_the_resume(tmp_artifacts: Path) -> None:
    checkpoint = tmp_artifacts / "runs" / "checkpoints" / "train.pt"
    first, retry = [], []
    with pytest.raises(RuntimeError, match="final evaluation"):
        cache.cached("quick", "train", CONFIG, _training(checkpoint, first, fail=True))
    assert first == [0, 1, 2, 3] and checkpoint.exists(), "a failed computation lost its finished training"
    out = cache.cached("quick", "train", CONFIG, _training(checkpoint, retry))
    assert retry == [] and out["v"] == [0.0, 1.0, 2.0, 3.0]
    assert out["_provenance"]["resumed_from_step"] == N_STEPS and not checkpoint.exists()
    assert cache.load("quick", "train", CONFIG)["_provenance"]["resumed_from_step"] == N_STEPS


def test_nested_cached_deletes_only_its_own_checkpoints(tmp_artifacts: Path) -> None:
    outer_ckpt, inner_ckpt = tmp_artifacts / "outer.pt", tmp_artifacts / "inner.pt"
    seen = {}

    def outer() -> dict:
        _training(outer_ckpt, [])()
        cache.cached("quick", "inner", CONFIG, _training(inner_ckpt, []))
        seen.update(outer=outer_ckpt.exists(), inner=inner_ckpt.exists())
        return {"x": 1}

    cache.cached("quick", "outer", CONFIG, outer)
    assert seen == {"outer": True, "inner": False}, "each computation must delete exactly its own checkpoints"
    assert not outer_ckpt.exists()


def test_dead_writers_checkpoint_temporaries_are_removed_when_a_loop_starts(tmp_path: Path) -> None:
    checkpoint, dead = tmp_path / "c.pt", _dead_pid()
    leftovers = {name: tmp_path / name for name in (f"c.pt.tmp{dead}", f"c.pt.tmp{os.getpid()}", f"d.pt.tmp{dead}")}
    for path in leftovers.values():
        path.write_bytes(b"half a checkpoint")
    run_loop(lambda i: {}, 0, {"lin": torch.nn.Linear(2, 1)}, checkpoint=checkpoint, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"c.pt.tmp{os.getpid()}", f"d.pt.tmp{dead}"]


# --- YAML and parameter files -----------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "pipeline.yaml"
    bad.write_text("n_stats: 10\nn_show: [1, 2\nseed: 3\n")
    monkeypatch.setattr(params, "profile_file", lambda profile, chapter: bad)
    with pytest.raises(ParameterError) as err:
        params.load_profile("full", "pipeline")
    message = str(err.value)
    assert str(bad) in message and "line" in message and "\n" not in message


def test_yaml_scientific_notation_is_a_number() -> None:
    assert params.parse_yaml("1e3") == 1000.0 and params.parse_yaml("2.5e-4") == 2.5e-4
    assert params.parse_yaml("'1e3'") == "1e3" and params.parse_yaml("12") == 12
    with pytest.raises(ParameterError, match="-p n_show"):
        params.parse_yaml("[1, 2", "-p n_show")


# --- gancnn-run ---------------------------------------------------------------------------------------------


def test_failed_run_keeps_the_last_good_notebook(tmp_artifacts: Path, offline_data: Path) -> None:
    import papermill

    from gancnn.book.runner import run_chapter

    runs = tmp_artifacts / "runs"
    runs.mkdir()
    good = runs / "pipeline-quick.ipynb"
    good.write_text("the previous good run")
    with pytest.raises(papermill.PapermillExecutionError, match="n_stats must be non-negative"):
        run_chapter("pipeline", overrides={"n_stats": -5})
    assert good.read_text() == "the previous good run"
    failed = runs / "pipeline-quick.failed.ipynb"
    nb = nbformat.read(failed, as_version=4)
    assert any(
        o.get("ename") == "ParameterError" for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert sorted(p.name for p in runs.iterdir()) == [failed.name, good.name], "temporaries left in runs/"


def test_killed_runs_notebooks_are_removed_when_a_run_starts(
    tmp_artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill

    from gancnn.book.runner import remove_stale_notebooks, run_chapter

    runs, dead = tmp_artifacts / "runs", _dead_pid()
    runs.mkdir()
    dead_partial, dead_source = runs / f".pipeline-quick.{dead}.partial.ipynb", runs / f".pipeline.{dead}.source.ipynb"
    live, good = runs / f".pipeline-full.{os.getpid()}.partial.ipynb", runs / "pipeline-quick.ipynb"
    for path in (dead_partial, dead_source, live, good):
        path.write_text("{}")
    assert remove_stale_notebooks(runs) == sorted([dead_partial, dead_source])
    assert sorted(runs.iterdir()) == sorted([live, good])
    dead_partial.write_text("{}")
    seen = []

    def record(source, output, **kwargs) -> None:
        seen.extend(p.name for p in runs.iterdir())
        Path(output).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", record)
    run_chapter("pipeline")
    assert dead_partial.name not in seen, "run_chapter left a killed run's notebook in place"
    assert sorted(runs.iterdir()) == sorted([live, good])


def test_listing_ignores_temporaries(tmp_artifacts: Path) -> None:
    cache.save("quick", "race", CONFIG, {"x": 1}, wall_time_s=0.0)
    leftover = _experiment_dir(tmp_artifacts) / f".{cache.config_key(CONFIG)}.{os.getpid()}.new-abcd1234"
    leftover.mkdir()
    (leftover / "provenance.json").write_text("{half written")
    assert [r["key"] for r in cache.list_entries("quick")] == [cache.config_key(CONFIG)]


def _long_compute(flag: str) -> None:
    """Compute the shared entry for a long time (until killed)."""

    def compute() -> dict:
        Path(flag).touch()
        time.sleep(30)
        return {"x": 1}

    cache.cached("quick", "race", CONFIG, compute)


def test_load_does_not_wait_for_a_computation(tmp_artifacts: Path) -> None:
    flag = tmp_artifacts / "computing"
    proc = FORK.Process(target=_long_compute, args=(str(flag),))
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cache.load("quick", "race", CONFIG) is None
        assert proc.is_alive(), "load() waited for the other process's computation to finish"
    finally:
        proc.kill()
        proc.join()


def test_read_only_artifacts_still_load(tmp_artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    cache.save("quick", "race", CONFIG, {"x": 1}, wall_time_s=0.0)
    real_open = os.open

    def no_lock_files(path, flags, *args):
        if str(path).endswith(".lock"):
            raise PermissionError(errno.EACCES, "read-only artifacts", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_lock_files)
    assert cache.load("quick", "race", CONFIG)["x"] == 1
    assert cache.cached("quick", "race", CONFIG, lambda: {"x": 2})["x"] == 1
