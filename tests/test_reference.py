"""The reference trainer: augmentation semantics, configuration checks, kill mid-epoch and resume."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gancnn.data import CIFAR10_CLASSES
from gancnn.reference import classifiers
from gancnn.train import load_checkpoint


def test_flip_crop_equals_slicing_the_padded_image() -> None:
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    out = classifiers.flip_crop(x, torch.Generator().manual_seed(3), padding=4)
    gen = torch.Generator().manual_seed(3)  # replay the same draws
    flip = torch.rand(16, generator=gen) < 0.5
    di, dj = torch.randint(0, 9, (16,), generator=gen), torch.randint(0, 9, (16,), generator=gen)
    for k in range(16):
        img = x[k].flip(2) if flip[k] else x[k]
        padded = torch.nn.functional.pad(img, (4, 4, 4, 4))
        assert torch.equal(out[k], padded[:, di[k] : di[k] + 32, dj[k] : dj[k] + 32])
    assert out.dtype == torch.uint8
    assert 0 < int(flip.sum()) < 16 and len(set(di.tolist())) > 1


def test_flip_crop_without_padding_only_flips() -> None:
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    out = classifiers.flip_crop(x, torch.Generator().manual_seed(0), padding=0)
    for k in range(8):
        assert torch.equal(out[k], x[k]) or torch.equal(out[k], x[k].flip(2))


def test_flip_crop_without_flips_keeps_every_image_upright() -> None:
    """hflip=False with no padding is the identity; with padding, each crop matches the flipping run's draws."""
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(classifiers.flip_crop(x, torch.Generator().manual_seed(0), padding=0, hflip=False), x)
    flipped = classifiers.flip_crop(x, torch.Generator().manual_seed(0), padding=0, hflip=True)
    assert not torch.equal(flipped, x)  # the same seed does flip some images when flips are on


def test_cutout_equals_zeroing_a_clipped_square_per_image() -> None:
    """Each image loses one size x size square (clipped at the border) centred at a seeded draw, in every channel."""
    x = torch.randn(32, 3, 32, 32)
    before = x.clone()
    out = classifiers.cutout(x, torch.Generator().manual_seed(5), size=16)
    gen = torch.Generator().manual_seed(5)  # replay the same draws
    ci, cj = torch.randint(0, 32, (32,), generator=gen), torch.randint(0, 32, (32,), generator=gen)
    for k in range(32):
        expected = x[k].clone()
        expected[:, max(ci[k] - 8, 0) : ci[k] + 8, max(cj[k] - 8, 0) : cj[k] + 8] = 0.0
        assert torch.equal(out[k], expected)
    zeroed = (out == 0).all(dim=1).sum(dim=(1, 2))  # pixels cut per image
    assert int(zeroed.max()) == 16 * 16 and int(zeroed.min()) < 16 * 16  # whole squares inside, clipped at edges
    assert torch.equal(x, before)  # the input itself is left alone
    assert torch.equal(classifiers.cutout(x, torch.Generator().manual_seed(5), size=0), x)


def test_cutout_keys_only_the_runs_that_use_it(offline_data) -> None:
    """No cutout (the default) leaves stored keys unchanged; a cutout size gives a new key."""
    plain = classifiers.REFERENCE_CONFIGS["resnet20-fixup"]
    assert "cutout" not in classifiers.cache_config(plain)
    cut = classifiers.replace(plain, cutout=16)
    assert classifiers.cache_config(cut)["cutout"] == 16
    assert classifiers.checkpoint_path(plain) != classifiers.checkpoint_path(cut)


def test_hflip_keys_only_the_runs_that_turn_it_off(offline_data) -> None:
    """The default (flips on) leaves stored keys unchanged; turning flips off gives a new key."""
    plain = classifiers.REFERENCE_CONFIGS["vgg7"]
    assert "hflip" not in classifiers.cache_config(plain)
    upright = classifiers.replace(plain, hflip=False)
    assert classifiers.cache_config(upright)["hflip"] is False
    assert classifiers.checkpoint_path(plain) != classifiers.checkpoint_path(upright)


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "vgg9"},
        {"optimizer": "lion"},
        {"precision": "fp8"},
        {"cutout": -1},
        {"cutout": 33},
        {"cutout": 8.0},
        {"epochs": 0},
        {"batch_size": 2.5},
        {"lr_max": -1.0},
        {"pct_start": 1.5},
    ],
)
def test_bad_configurations_fail_at_once(bad: dict) -> None:
    with pytest.raises(ValueError):
        classifiers.ReferenceConfig(**{"name": "vgg7", **bad})


def test_verdict_thresholds() -> None:
    assert classifiers.verdict(91.7, 91.6) == "reproduced"
    assert classifiers.verdict(90.7, 91.6) == "reproduced (within 1 point)"
    assert classifiers.verdict(90.5, 91.6) == "below the source"


def test_every_reference_network_has_a_source_accuracy() -> None:
    assert set(classifiers.REFERENCE_CONFIGS) == set(classifiers.MODEL_NAMES)
    assert classifiers.source_accuracy("resnet20-bn") == 91.6


def _fake_cifar(root: Path, per_class_train: int = 12, per_class_test: int = 3) -> None:
    """A tiny CIFAR-10 in the JPEG ImageFolder layout, with class-dependent colours."""
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class_train), ("test", per_class_test)):
        for c, name in enumerate(CIFAR10_CLASSES):
            folder = root / "cifar10-jpeg" / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 60, (32, 32, 3)) + np.array([25 * c, 255 - 25 * c, 100])
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i}.jpg", quality=90)


SCRIPT = r"""
import sys, time, torch
torch.set_num_threads(1)
from gancnn.reference import classifiers
from gancnn.train import for_machine
delay = float(sys.argv[2])
original = classifiers.flip_crop
def slow_flip_crop(*args):
    time.sleep(delay)
    return original(*args)
classifiers.flip_crop = slow_flip_crop
cfg = classifiers.ReferenceConfig("resnet20-bn", epochs=3, batch_size=16, n_train=96, n_val=24, lr_max=0.05)
cfg = for_machine(cfg, "cpu")  # what `ensure` trains: fp32 where bf16 would be emulated
result = classifiers.train(cfg, progress=False, checkpoint_every=4)
torch.save({"state": result["state_dict"], "curves": result["curves"], "test_acc": result["test_acc"]}, sys.argv[1])
"""


def _launch(out: Path, delay: float, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), str(delay)], env=env)


def test_kill_mid_epoch_then_resume_gives_the_same_weights(tmp_path: Path) -> None:
    _fake_cifar(tmp_path / "data")
    env = {**os.environ, "GANCNN_DATA": str(tmp_path / "data"), "GANCNN_DOWNLOAD": "0", "GANCNN_DATA_MANIFEST": "off"}
    straight = {**env, "GANCNN_RUNS": str(tmp_path / "runs-a")}
    killed = {**env, "GANCNN_RUNS": str(tmp_path / "runs-b")}
    assert _launch(tmp_path / "a.pt", 0.0, straight).wait(timeout=300) == 0
    proc = _launch(tmp_path / "b.pt", 0.3, killed)
    ckpts = tmp_path / "runs-b" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        found = list(ckpts.glob("reference-*.pt")) if ckpts.is_dir() else []
        if found and load_checkpoint(found[0])["step"] >= 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = load_checkpoint(found[0])["step"]
    assert stopped_at % 6 != 0 and stopped_at < 18, f"the kill must land mid-epoch, it landed at step {stopped_at}"
    assert not (tmp_path / "b.pt").exists()
    assert _launch(tmp_path / "b.pt", 0.0, killed).wait(timeout=300) == 0
    a, b = torch.load(tmp_path / "a.pt"), torch.load(tmp_path / "b.pt")
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k
    assert a["curves"]["val_acc"] == b["curves"]["val_acc"] and len(a["curves"]["epoch"]) == 3
    assert a["test_acc"] == b["test_acc"]


def test_chapter_model_prefers_stored_reference_weights(tmp_artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cifar(tmp_artifacts / "data")
    monkeypatch.setenv("GANCNN_DATA", str(tmp_artifacts / "data"))
    monkeypatch.setenv("GANCNN_DATA_MANIFEST", "off")  # a tiny fake copy, not the manifest's
    monkeypatch.setenv("GANCNN_DOWNLOAD", "0")
    tiny = classifiers.ReferenceConfig(
        "vgg7-bn", epochs=1, batch_size=16, n_train=96, n_val=24, lr_max=0.05, cutout=8
    )  # cutout on: its training path runs and the table names it
    with pytest.raises(FileNotFoundError, match="make reference"):
        classifiers.chapter_model("vgg7-bn", "quick", reference=tiny)
    record = classifiers.ensure("vgg7-bn", cfg=tiny, progress=False)
    model, rec = classifiers.chapter_model("vgg7-bn", "quick", reference=tiny)
    assert rec["origin"] == "reference" and rec["n_test_images"] == 30 and rec["source_test_acc"] == 89.5
    assert rec["test_acc"] == record["test_acc"]
    x, y, _ = classifiers.cached_images("cifar10", "test")
    assert classifiers.evaluate(model, x, y)[0] == pytest.approx(rec["test_acc"])
    assert classifiers.describe_origin({"vgg7-bn": rec}) is None
    table = classifiers.accuracy_table({"vgg7-bn": model}, {"vgg7-bn": rec})
    assert table.loc["vgg7-bn", "verdict"] == classifiers.verdict(rec["test_acc"], 89.5)
    assert table.loc["vgg7-bn", "schedule"] == "1 epochs, sgd, one-cycle, cutout 8"
    # another seed has no stored weights: the quick fallback trains and is flagged for the reader
    fb = classifiers.QuickFallback(n_train=100, epochs=1, lr=0.05, n_val=20, n_test=30)
    _, rec_fb = classifiers.chapter_model("vgg7-bn", "quick", seed=1, fallback=fb, reference=tiny)
    assert rec_fb["origin"] == "quick-fallback"
    assert "make reference" in classifiers.describe_origin({"vgg7-bn": rec_fb})


@pytest.mark.parametrize("name", ["vgg7", "resnet20-fixup"])
def test_stored_verification_of_a_reference_network(name: str, tmp_artifacts: Path, monkeypatch) -> None:
    from gancnn.reference import verification

    _fake_cifar(tmp_artifacts / "data")
    monkeypatch.setenv("GANCNN_DATA", str(tmp_artifacts / "data"))
    monkeypatch.setenv("GANCNN_DATA_MANIFEST", "off")  # a tiny fake copy, not the manifest's
    monkeypatch.setenv("GANCNN_DOWNLOAD", "0")
    tiny = classifiers.ReferenceConfig(name, epochs=1, batch_size=16, n_train=96, n_val=24, lr_max=0.01)
    assert verification.run(name, cfg=tiny) is None  # nothing stored yet: nothing to verify
    classifiers.ensure(name, cfg=tiny, progress=False)
    result = verification.run(name, n_images=30, cfg=tiny)
    assert result["n_images"] == 30 and verification.version_of(name) == (1 if name == "vgg7" else 2)
    layer, share = verification.worst_layer(result)
    assert share >= 99.0, (layer, share)
    again = verification.stored(name, n_images=30, cfg=tiny)
    assert again["layers"] == result["layers"]


def test_shuffled_labels_key_only_the_runs_that_ask_for_them(offline_data) -> None:
    """Stored models keep their keys (no `shuffle_labels` field unless set); a shuffled run has its own key."""
    plain = classifiers.REFERENCE_CONFIGS["vgg7"]
    assert "shuffle_labels" not in classifiers.cache_config(plain)
    shuffled = classifiers.SHUFFLED_LABEL_CONFIGS["vgg7"]
    assert shuffled.shuffle_labels and classifiers.cache_config(shuffled)["shuffle_labels"] is True
    assert classifiers.checkpoint_path(plain) != classifiers.checkpoint_path(shuffled)


def test_shuffled_label_training_permutes_the_training_labels_only(tmp_path: Path, monkeypatch) -> None:
    """The trainer sees a seeded permutation of the training labels; the test labels stay true."""
    _fake_cifar(tmp_path / "data")
    monkeypatch.setenv("GANCNN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GANCNN_DATA_MANIFEST", "off")
    monkeypatch.setenv("GANCNN_RUNS", str(tmp_path / "runs"))
    seen: list[torch.Tensor] = []
    original = classifiers.F.cross_entropy

    def spy(logits, target, **kwargs):
        seen.append(target.clone())
        return original(logits, target, **kwargs)

    monkeypatch.setattr(classifiers.F, "cross_entropy", spy)
    base = dict(epochs=1, batch_size=96, n_train=96, n_val=24, crop_padding=0)
    runs = {}
    for shuffle in (False, True):
        seen.clear()
        cfg = classifiers.ReferenceConfig("vgg7", shuffle_labels=shuffle, **base)
        result = classifiers.train(cfg, progress=False)
        runs[shuffle] = (seen[0], result)
    plain_labels, shuffled_labels = runs[False][0], runs[True][0]
    assert sorted(plain_labels.tolist()) == sorted(shuffled_labels.tolist())  # the same labels, permuted
    assert not torch.equal(plain_labels, shuffled_labels)
    assert runs[True][1]["shuffled_labels"] and not runs[False][1]["shuffled_labels"]


def test_machine_precision_falls_back_to_fp32_only_where_bf16_is_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 is kept where accelerated, replaced by fp32 elsewhere; fp32 stays fp32; bad names fail."""
    import gancnn.train as train

    cfg = classifiers.REFERENCE_CONFIGS["vgg7"]
    monkeypatch.setattr(train, "bf16_accelerated", lambda device: False)
    assert train.machine_precision("bf16", "cpu") == "fp32" and train.for_machine(cfg, "cpu").precision == "fp32"
    monkeypatch.setattr(train, "bf16_accelerated", lambda device: True)
    assert train.machine_precision("bf16", "cpu") == "bf16" and train.for_machine(cfg, "cpu") == cfg
    assert train.machine_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        train.machine_precision("fp16", "cpu")
    fp32 = dataclasses.replace(cfg, precision="fp32")
    assert train.precision_variants(cfg) == [cfg, fp32] and train.precision_variants(fp32) == [fp32]
    monkeypatch.undo()
    if not torch.cuda.is_available():
        assert train.bf16_accelerated("cuda") is False
    assert isinstance(train.bf16_accelerated("cpu"), bool)


def test_a_bf16_schedule_stored_at_fp32_counts_as_present(tmp_artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fast bf16 a bf16 schedule trains at fp32; later, with fast bf16, that run is found, not retrained."""
    import gancnn.train as train

    _fake_cifar(tmp_artifacts / "data")
    monkeypatch.setenv("GANCNN_DATA", str(tmp_artifacts / "data"))
    monkeypatch.setenv("GANCNN_DATA_MANIFEST", "off")
    monkeypatch.setenv("GANCNN_DOWNLOAD", "0")
    tiny = classifiers.ReferenceConfig("vgg7", epochs=1, batch_size=16, n_train=96, n_val=24, lr_max=0.01)
    monkeypatch.setattr(train, "bf16_accelerated", lambda device: False)
    record = classifiers.ensure("vgg7", cfg=tiny, progress=False)
    assert record["_provenance"]["config"]["precision"] == "fp32"
    monkeypatch.setattr(train, "bf16_accelerated", lambda device: True)
    monkeypatch.setattr(classifiers, "train", lambda *a, **k: pytest.fail("retrained a stored network"))
    assert classifiers.stored("vgg7", tiny)["test_acc"] == record["test_acc"]
    assert classifiers.ensure("vgg7", cfg=tiny, progress=False)["test_acc"] == record["test_acc"]


def test_curve_labels_read_as_name_and_dataset() -> None:
    assert classifiers.curve_label(("resnet20-fixup", "cifar10")) == "resnet20-fixup (cifar10)"
    assert classifiers.curve_label("vgg7") == "vgg7"
    fig = classifiers.plot_curves(
        {
            ("vgg7", "cifar10"): {
                "origin": "reference",
                "curves": {"epoch": [1, 2], "val_acc": [50, 60], "train_loss": [2, 1]},
            }
        }
    )
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["vgg7 (cifar10)"]
