"""The training loop: checkpoints, exact resume after a kill, deterministic batches."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gancnn.train import StepSampler, load_checkpoint, run_loop

SCRIPT = r"""
import sys, time, torch
from gancnn.book.seed import seed_everything
from gancnn.train import StepSampler, run_loop
ckpt, out, n_steps, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
seed_everything(0)
x, y = torch.randn(64, 5), torch.randn(64, 1)
model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
sampler = StepSampler(64, 16, seed=1)
def step(i):
    time.sleep(delay)
    idx = torch.as_tensor(sampler.indices(i))
    loss = ((model(x[idx]) - y[idx]) ** 2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    return {"loss": loss.item()}
hist = run_loop(step, n_steps, {"model": model, "opt": opt}, checkpoint=ckpt, every=5, progress=False)
torch.save({"state": model.state_dict(), "losses": [h["loss"] for h in hist]}, out)
"""


def _run(tmp: Path, name: str, n_steps: int, delay: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp / f"{name}.ckpt"), str(tmp / f"{name}.out"), str(n_steps), str(delay)]
    )


def test_kill_and_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    assert _run(tmp_path, "straight", 40).wait(timeout=120) == 0
    proc = _run(tmp_path, "killed", 40, delay=0.2)  # slow steps: the kill lands well before step 40
    ckpt = tmp_path / "killed.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline:
        if ckpt.exists() and load_checkpoint(ckpt)["step"] >= 10:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = load_checkpoint(ckpt)["step"]
    assert 10 <= stopped_at < 40, "the run must be killed part-way"
    assert not (tmp_path / "killed.out").exists()
    assert _run(tmp_path, "killed", 40).wait(timeout=120) == 0
    a, b = torch.load(tmp_path / "straight.out"), torch.load(tmp_path / "killed.out")
    assert len(b["losses"]) == 40
    np.testing.assert_array_equal(a["losses"], b["losses"])
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k


def test_step_sampler_is_a_function_of_the_step() -> None:
    s1, s2 = StepSampler(10, 3, seed=4), StepSampler(10, 3, seed=4)
    assert s1.steps_per_epoch == 3
    seen = np.concatenate([s1.indices(i) for i in range(3)])
    assert len(set(seen.tolist())) == 9  # one epoch: no repeats
    np.testing.assert_array_equal(s1.indices(7), s2.indices(7))
    assert not np.array_equal(s1.indices(0), s1.indices(3))  # a new permutation each epoch
    with pytest.raises(ValueError):
        StepSampler(2, 3)


def test_loop_rejects_bad_arguments_and_mismatched_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        run_loop(lambda i: {}, -1, {})
    lin = torch.nn.Linear(2, 2)
    run_loop(lambda i: {"x": 1.0}, 3, {"lin": lin}, checkpoint=tmp_path / "c.pt", every=1, progress=False)
    with pytest.raises(RuntimeError, match="expected"):
        run_loop(lambda i: {}, 5, {"other": lin}, checkpoint=tmp_path / "c.pt", progress=False)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="cannot be read"):
        run_loop(lambda i: {}, 5, {"lin": lin}, checkpoint=tmp_path / "bad.pt", progress=False)


def test_finished_run_is_not_repeated(tmp_path: Path) -> None:
    calls: list[int] = []
    lin = torch.nn.Linear(2, 2)
    step = lambda i: calls.append(i) or {"v": float(i)}  # noqa: E731
    run_loop(step, 4, {"lin": lin}, checkpoint=tmp_path / "c.pt", every=2, progress=False)
    hist = run_loop(step, 4, {"lin": lin}, checkpoint=tmp_path / "c.pt", every=2, progress=False)
    assert calls == [0, 1, 2, 3] and [h["v"] for h in hist] == [0, 1, 2, 3]


def test_keep_freed_memory_sets_the_allocator_and_changes_no_number() -> None:
    """On glibc every mallopt call succeeds (and can be repeated); a computation gives the same bits after it."""
    import platform

    from gancnn.train import keep_freed_memory

    x = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    before = x @ x
    done = keep_freed_memory()
    assert done is (platform.libc_ver()[0] == "glibc")
    assert keep_freed_memory() is done
    assert torch.equal(x @ x, before)
