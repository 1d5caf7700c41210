"""Experiment drivers moved out of the chapters: GAN runs, colourisation runs, FID validation, stored classifiers."""

from __future__ import annotations

import pytest
import torch

from gancnn.adjoint import training as ct
from gancnn.book import cache
from gancnn.coursework import colorization as col
from gancnn.gan import experiment, fid

GAN_KNOBS = dict(
    nz=16,
    width=16,
    batch_size=8,
    dcgan_lr_g=2e-4,
    dcgan_lr_d=2e-4,
    dcgan_beta1=0.5,
    dcgan_beta2=0.999,
    sagan_lr_g=1e-4,
    sagan_lr_d=4e-4,
    sagan_beta1=0.0,
    sagan_beta2=0.9,
    n_critic=1,
    gp_weight=10.0,
    seed=0,
    n_train=64,
    n_fid=32,
    fid_chunk=16,
    n_fid_curve=16,
    curve_points=2,
    snapshot_points=2,
)


def test_gan_pairs_are_seeded_and_families_checked() -> None:
    g1, _ = experiment.build_pair("sagan", 16, 16, seed=3)
    g2, _ = experiment.build_pair("sagan", 16, 16, seed=3)
    for a, b in zip(g1.state_dict().values(), g2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="unknown GAN family"):
        experiment.build_pair("stylegan", 16, 16, 0)


def test_gan_setups_follow_the_families() -> None:
    dcgan, sagan = experiment.setup_for("dcgan", GAN_KNOBS), experiment.setup_for("sagan", GAN_KNOBS)
    assert dcgan.loss == "nonsaturating" and dcgan.n_classes == 0
    assert sagan.loss == "wgan-gp" and sagan.n_classes == 10 and sagan.lr_d == 4 * sagan.lr_g
    key = experiment.run_config("sagan", 10, GAN_KNOBS, "jpeg-q75")
    assert key["setup"] == sagan.as_dict() and key["n_steps"] == 10 and key["copy"] == "jpeg-q75"
    assert cache.config_key(key) != cache.config_key(experiment.run_config("sagan", 11, GAN_KNOBS, "jpeg-q75"))


def test_fid_validation_key_still_finds_the_committed_run(repo_root) -> None:
    config = fid.train_vs_test_config(2000, 1024, 0, "jpeg-q75")
    stored = cache.load("full", "fid-train-vs-test", config)
    assert stored is not None and stored["n"] == 2000
    assert fid.subsample_sizes(2000) == list(stored["sizes"])
    assert fid.subsample_sizes(32) == [8, 16, 32]


def test_colourisation_runs_are_keyed_and_rebuilt() -> None:
    knobs = dict(
        seed=0,
        colour_class=7,
        n_train=10,
        n_val=5,
        n_clusters=24,
        kmeans_pixels=100,
        epochs=1,
        batch_size=5,
        colour_lr=1e-3,
        kernel=3,
        num_filters=8,
    )
    key = col.run_config("PoolUpsampleNet", knobs, "jpeg-q75")
    assert key["architecture"] == "PoolUpsampleNet" and key["num_filters"] == 8
    net = col.build_network("PoolUpsampleNet", knobs)
    rebuilt = col.trained_network("PoolUpsampleNet", knobs, {"state": net.state_dict()})
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(net.eval()(x), rebuilt(x))


def test_stored_full_classifier_lookup_uses_the_training_key(tmp_artifacts, offline_data) -> None:
    assert ct.stored_full("vgg7") is None
    conf = ct.source_config("vgg7")
    cache.save("full", "classifier-vgg7", ct.cache_config(conf), {"test_acc": 1.0}, wall_time_s=0.0)
    assert ct.stored_full("vgg7")["test_acc"] == 1.0
