"""The committed reference tier is complete: every entry `make reference` would create is stored, so the quick
build loads weights and trains nothing (a changed schedule without its retrained entry fails here, not in CI's
book build, which would quietly fall back to training)."""

from __future__ import annotations

import pytest

from gancnn.reference import classifiers, colourization, gans, gmm_features, mnist, verification


@pytest.mark.parametrize("name", list(classifiers.REFERENCE_CONFIGS))
def test_every_reference_classifier_and_its_verification_is_stored(name: str, offline_data) -> None:
    record = classifiers.stored(name)
    assert record is not None, f"{name}: schedule {classifiers.REFERENCE_CONFIGS[name]} has no stored entry"
    assert record["complete"] and record["n_test"] == 10_000
    assert len(record["curves"]["epoch"]) == classifiers.REFERENCE_CONFIGS[name].epochs
    assert verification.stored(name) is not None, f"{name}: the all-image verification is not stored"


@pytest.mark.parametrize("name", list(classifiers.SHUFFLED_LABEL_CONFIGS))
def test_every_shuffled_label_network_is_stored(name: str, offline_data) -> None:
    assert classifiers.stored(name, classifiers.SHUFFLED_LABEL_CONFIGS[name]) is not None


@pytest.mark.parametrize("model", list(gans.REFERENCE_GANS))
def test_every_reference_gan_is_stored(model: str, offline_data) -> None:
    assert gans.stored(model) is not None


def test_the_mnist_models_colourisation_and_gmm_features_are_stored(offline_data) -> None:
    assert mnist.stored_cnn() is not None and mnist.stored_gan() is not None
    assert colourization.stored() is not None
    for label, cfg in gmm_features.CONFIGS.items():
        assert gmm_features.stored(cfg) is not None, f"gmm features {label}"


@pytest.mark.parametrize(("quality", "seed"), list(classifiers.JPEG_SENSITIVITY_CONFIGS))
def test_every_jpeg_sensitivity_run_is_stored(quality: int, seed: int, offline_data) -> None:
    cfg = classifiers.JPEG_SENSITIVITY_CONFIGS[quality, seed]
    record = classifiers.stored(cfg.name, cfg)
    assert record is not None, f"JPEG sensitivity at quality {quality or 'as loaded'}, seed {seed}, has no stored entry"
    assert record["complete"] and record["n_test"] == 10_000 and len(record["curves"]["epoch"]) == cfg.epochs
