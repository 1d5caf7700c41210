"""Exact resume for every trainer: a run that crashes part-way and is restarted equals one run straight through.

The crash is raised inside a training step (after some checkpoints, between two of them), so the restart
has to replay from the last checkpoint: weights, optimiser, every random generator, the metric history,
the kept snapshots and the FID curve must all come back exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from gancnn.train import load_checkpoint


class Crash(RuntimeError):
    """The simulated failure inside a training step."""


def crash_at(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, at_step: int | None, every: int | None = None
) -> None:
    """Make `module.run_loop` raise Crash when step `at_step` starts (None: never); optionally checkpoint more often."""
    original: Callable[..., Any] = module.run_loop

    def patched(step: Callable[[int], Any], n_steps: int, objects: Any, **kw: Any) -> Any:
        """run_loop with a failing step."""
        if every is not None:
            kw["every"] = every

        def failing(i: int) -> Any:
            """The original step, except at `at_step`."""
            if i == at_step:
                raise Crash(f"simulated crash at step {i}")
            return step(i)

        return original(failing, n_steps, objects, **kw)

    monkeypatch.setattr(module, "run_loop", patched)


def use_folders(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Point the artifact cache and the checkpoints at a fresh pair of folders."""
    monkeypatch.setenv("GANCNN_ARTIFACTS", str(root / "artifacts"))
    monkeypatch.setenv("GANCNN_RUNS", str(root / "runs"))


def only_checkpoint(root: Path) -> Path:
    """The single checkpoint a crashed run left behind."""
    found = sorted((root / "runs" / "checkpoints").rglob("*.pt"))
    assert len(found) == 1, found
    return found[0]


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Every tensor equal, bit for bit."""
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_adjoint_trainer_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_data: Path) -> None:
    """Source-schedule trainer (augmentation generator, best-weights keeper, two learning rates, L1) after a crash."""
    from gancnn.adjoint import training

    monkeypatch.setenv("GANCNN_DATA", str(offline_data))
    cfg = training.TrainConfig(
        name="vgg7",
        schedule=((0.05, 2), (0.01, 1)),
        n_train=64,
        n_val=32,
        n_test=32,
        batch_size=16,
        momentum=0.9,
        augment=True,
        val_every_epochs=1,
    )
    use_folders(monkeypatch, tmp_path / "straight")
    straight = training.train(cfg, progress=False)
    use_folders(monkeypatch, tmp_path / "crashed")
    crash_at(monkeypatch, training, at_step=6)  # 4 steps per epoch: the last checkpoint is after step 4
    with pytest.raises(Crash):
        training.train(cfg, progress=False)
    assert load_checkpoint(only_checkpoint(tmp_path / "crashed"))["step"] == 4
    monkeypatch.undo()
    monkeypatch.setenv("GANCNN_DATA", str(offline_data))
    use_folders(monkeypatch, tmp_path / "crashed")
    torch.manual_seed(999)  # disturb the global generator: the checkpoint has to restore it
    resumed = training.train(cfg, progress=False)
    assert_same_state(straight["state_dict"], resumed["state_dict"])
    assert straight["history"] == resumed["history"] and len(resumed["history"]) == 12
    assert (straight["val_acc"], straight["test_acc"]) == (resumed["val_acc"], resumed["test_acc"])


def test_mnist_gan_resumes_exactly_with_its_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_data: Path
) -> None:
    """The MNIST GAN crashed between checkpoints: weights, losses and every fixed-noise snapshot as uninterrupted."""
    from gancnn.gan import mnist
    from gancnn.gan import training as gan

    monkeypatch.setenv("GANCNN_DATA", str(offline_data))
    kwargs = {"n_train": 128, "epochs": 3, "batch_size": 32, "n_snapshots": 4}  # 12 steps, snapshots at 3, 6, 9, 12
    use_folders(monkeypatch, tmp_path / "straight")
    crash_at(monkeypatch, gan, at_step=None, every=2)
    _, straight = mnist.train_gan("quick", 0, **kwargs)
    use_folders(monkeypatch, tmp_path / "crashed")
    crash_at(monkeypatch, gan, at_step=7, every=2)  # the last checkpoint is after step 6
    with pytest.raises(Crash):
        mnist.train_gan("quick", 0, **kwargs)
    assert load_checkpoint(only_checkpoint(tmp_path / "crashed"))["step"] == 6
    monkeypatch.undo()
    monkeypatch.setenv("GANCNN_DATA", str(offline_data))
    use_folders(monkeypatch, tmp_path / "crashed")
    torch.manual_seed(999)
    _, resumed = mnist.train_gan("quick", 0, **kwargs)
    assert resumed["snapshot_steps"] == straight["snapshot_steps"] == [3, 6, 9, 12]
    assert torch.equal(straight["snapshots"], resumed["snapshots"])
    assert_same_state(straight["gen"], resumed["gen"])
    assert_same_state(straight["disc"], resumed["disc"])
    np.testing.assert_array_equal(straight["d_loss"], resumed["d_loss"])
    np.testing.assert_array_equal(straight["g_loss"], resumed["g_loss"])


class ProjectionFeatures:
    """A deterministic stand-in for the Inception features: a fixed random projection of the pixels."""

    def __init__(self, dim: int = 6) -> None:
        """Draw the projection once."""
        self.weight = torch.randn(3 * 32 * 32, dim, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def __call__(self, images: torch.Tensor, batch: int, progress: bool = False, desc: str = "") -> np.ndarray:
        """Features (N, dim) of images in [-1, 1] or uint8."""
        return (images.flatten(1).double() @ self.weight).numpy()


def _gan_params(model: str) -> dict[str, Any]:
    """A tiny parameter set of the dcgan-sagan experiment."""
    from gancnn.reference.gans import GAN_KNOBS

    return {
        **GAN_KNOBS,  # the chapter's optimiser knobs
        "seed": 0,
        "n_train": 40,
        "width": 8,
        "batch_size": 8,
        "nz": 16,
        "n_fid": 24,
        "fid_chunk": 12,
        "n_fid_curve": 12,
        "curve_points": 4,  # FID points after steps 2, 4 and 6 of 8
        "snapshot_points": 4,
        "checkpoint_every": 3,
        "fid_batch": 8,
        "ema_decay": 0.9 if model == "dcgan" else 0.0,
    }


@pytest.mark.parametrize("model", ["dcgan", "sagan"])
def test_gan_experiment_run_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    """`experiment.train_run` crashed after a checkpoint: FID curve, snapshots, final FIDs and G as uninterrupted."""
    from gancnn.gan import experiment
    from gancnn.gan import training as gan

    p = _gan_params(model)
    gen = torch.Generator().manual_seed(1)
    train_x = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=gen)
    train_y = torch.randint(0, 10, (40,), generator=gen)
    real = np.random.default_rng(2).normal(size=(24, 6))
    features = ProjectionFeatures()

    def run() -> dict[str, Any]:
        """One call of the chapter's run."""
        return experiment.train_run(model, 8, p, train_x, train_y, features, real, "test-copy")

    use_folders(monkeypatch, tmp_path / "straight")
    straight = run()
    use_folders(monkeypatch, tmp_path / "crashed")
    crash_at(monkeypatch, gan, at_step=5)  # checkpoints after steps 3 and 6: the restart replays steps 4 and 5
    with pytest.raises(Crash):
        run()
    assert load_checkpoint(only_checkpoint(tmp_path / "crashed"))["step"] == 3
    monkeypatch.undo()
    use_folders(monkeypatch, tmp_path / "crashed")
    torch.manual_seed(999)
    resumed = run()
    assert np.isfinite(straight["fid"]).sum() == 3  # the curve has its three points during training
    for key in ("fid", "fid_step", "d_loss", "g_loss", "snapshots", "final_samples"):
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)
    assert straight["snapshot_steps"] == resumed["snapshot_steps"] == [2, 4, 6, 8]
    assert (straight["final_fid"], straight["final_chunks"]) == (resumed["final_fid"], resumed["final_chunks"])
    assert_same_state(straight["generator"], resumed["generator"])
