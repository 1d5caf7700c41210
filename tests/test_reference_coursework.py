"""Reference MNIST models and colourisation runs: source-scale configurations, storage keys, chapter loading."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import torch

from gancnn.coursework import colorization as col
from gancnn.gan import mnist as mt
from gancnn.reference import colourization, mnist


def test_reference_mnist_models_use_the_sources_scale() -> None:
    """All 60,000 training images; the GAN for the source's 50 epochs; the keys the trainers cache under."""
    assert mnist.REFERENCE_GAN.n_train == mnist.REFERENCE_CNN.n_train == 60000
    assert mnist.REFERENCE_GAN.epochs == mnist.SOURCE_GAN_EPOCHS == 50
    assert set(asdict(mnist.REFERENCE_GAN)) == {
        "seed",
        "n_train",
        "epochs",
        "batch_size",
        "lr",
        "n_grid",
        "n_snapshots",
    }
    assert set(asdict(mnist.REFERENCE_CNN)) == {"seed", "n_train", "epochs", "batch_size", "lr"}


def test_reference_colourization_is_the_coursework_protocol() -> None:
    """25 epochs, every horse, Adam 0.001, three networks; the configuration covers every run key."""
    cfg = colourization.REFERENCE
    assert (cfg.epochs, cfg.n_train, cfg.n_val, cfg.colour_lr, cfg.batch_size) == (25, None, None, 1e-3, 100)
    assert set(col.RUN_KEYS) <= set(colourization.params())
    assert set(colourization.ARCHITECTURES) == {"PoolUpsampleNet", "ConvTransposeNet", "UNet"}


def test_mnist_chapter_models_fall_back_then_load_the_stored_reference(
    tmp_artifacts, offline_data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a stored model the quick profile trains its short run (origin quick-fallback, with a warning);
    once the reference is stored it is loaded (origin reference) and the warning goes."""
    tiny_gan = replace(mnist.REFERENCE_GAN, n_train=256, epochs=1, n_grid=4, n_snapshots=2)
    tiny_cnn = replace(mnist.REFERENCE_CNN, n_train=256, epochs=1)
    monkeypatch.setattr(mnist, "REFERENCE_GAN", tiny_gan)
    monkeypatch.setattr(mnist, "REFERENCE_CNN", tiny_cnn)
    accuracy = mt.cnn_accuracy
    monkeypatch.setattr(mt, "cnn_accuracy", lambda m, x, y: accuracy(m, x[:500], y[:500]))  # a tenth of the test set
    p = {
        "seed": 0,
        "cnn_train": 128,
        "cnn_epochs": 1,
        "gan_train": 128,
        "gan_epochs": 1,
        "gan_batch": 64,
        "n_snapshots": 2,
    }
    before = mnist.chapter_models("quick", p)
    records = {k: r for k, (_, r) in before.items()}
    assert {r["origin"] for r in records.values()} == {"quick-fallback"}
    assert "mnist-cnn" in mnist.describe_origin(records)
    gan_record = mnist.ensure("mnist-gan")
    assert "disc" not in gan_record and gan_record["step_seconds_total"] > 0
    mnist.ensure("mnist-cnn")
    after = mnist.chapter_models("quick", p)
    records = {k: r for k, (_, r) in after.items()}
    assert {r["origin"] for r in records.values()} == {"reference"}
    assert records["mnist-gan"]["n_train"] == 256 and mnist.describe_origin(records) is None
    gen, _ = after["mnist-gan"]
    reference_gen, _ = mt.train_gan(
        "reference", tiny_gan.seed, 256, 1, tiny_gan.batch_size, tiny_gan.lr, 4, 2, keep_discriminator=False
    )
    z = torch.randn(3, gen.noise_dim)
    assert (gen(z) - reference_gen(z)).abs().max() == 0  # the same stored weights
    rows = mnist.summary()
    assert set(rows) == {"mnist-cnn", "mnist-gan"} and 0 <= rows["mnist-cnn"]["test_acc"] <= 100
    full = mnist.chapter_models("full", p)  # other profiles never substitute the reference
    assert {r["origin"] for _, r in full.values()} == {"full"}


def test_colourization_reference_is_missing_until_all_three_runs_are_stored(tmp_artifacts, offline_data) -> None:
    """`stored` answers None while a network is missing, then returns the three runs the trainer stored."""
    cfg = replace(
        colourization.REFERENCE, n_train=40, n_val=20, kmeans_pixels=2000, epochs=1, num_filters=4, batch_size=20
    )
    cd = colourization.prepare(cfg)
    assert colourization.stored(cd.data_copy.copy, cfg) is None
    runs = colourization.ensure(cfg=cfg)
    assert set(runs) == set(colourization.ARCHITECTURES)
    again = colourization.stored(cd.data_copy.copy, cfg)
    assert again is not None and all(len(r["val_acc"]) == 1 for r in again.values())
    acc, loss = colourization.final(again["UNet"])
    assert 0 <= acc <= 1 and loss > 0
