"""The stored Inception-v3 features of the reference SAGAN's images (the GMM chapter's headline case)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from gancnn.gan import fid
from gancnn.reference import gans, gmm_features


@pytest.mark.parametrize(
    "bad",
    [{"classes": ()}, {"classes": (0, 0)}, {"classes": (10,)}, {"z": "Laplace"}, {"n_per_class": 0}, {"batch": 2.5}],
)
def test_bad_feature_configurations_fail_at_once(bad: dict) -> None:
    with pytest.raises((ValueError, KeyError)):
        replace(gmm_features.REFERENCE, **bad)


def test_the_split_is_the_sources_with_a_reserve_for_every_floor() -> None:
    """N = 500 (m = 330 estimate the GMM, n = 170 tested) and at least n reserve rows per class, both laws."""
    n = gmm_features.N_POOL - gmm_features.M
    assert (gmm_features.N_POOL, gmm_features.M, n) == (500, 330, 170)
    for cfg in gmm_features.CONFIGS.values():
        assert cfg.n_per_class - gmm_features.N_POOL >= n  # the GAN-vs-GAN floor needs 2 n held-out rows
    entries = [{"features": torch.arange(12.0 * 2).view(12, 2) + c} for c in range(3)]
    with pytest.raises(ValueError, match="reserve"):
        gmm_features.split(entries)


def test_latents_differ_by_class_and_law_and_repeat_exactly() -> None:
    draw = lambda cfg, c: torch.randn(4, generator=gmm_features.latent_generator(cfg, c))  # noqa: E731
    ref, cauchy = gmm_features.REFERENCE, gmm_features.CAUCHY
    assert torch.equal(draw(ref, 0), draw(ref, 0))
    assert not torch.equal(draw(ref, 0), draw(ref, 1)) and not torch.equal(draw(ref, 0), draw(cauchy, 0))


class _LabelEcho(torch.nn.Module):
    """A conditional 'generator' whose image is the label (scaled to [-1, 1]) everywhere, plus z[0]."""

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        base = labels.float().view(-1, 1, 1, 1) / 9 * 2 - 1
        return (base + 0 * z[:, :1, None, None]).expand(-1, 3, 4, 4)


def test_class_images_are_drawn_for_the_asked_label_as_uint8() -> None:
    cfg = replace(gmm_features.REFERENCE, n_per_class=7, batch=3)
    images = gmm_features.class_images(_LabelEcho(), cfg, 9)
    assert images.shape == (7, 3, 4, 4) and images.dtype == torch.uint8 and bool((images == 255).all())


def test_stored_is_none_without_a_reference_sagan(tmp_artifacts, offline_data) -> None:
    assert gmm_features.stored() is None
    with pytest.raises(RuntimeError, match="reference SAGAN"):
        gmm_features.ensure()


def test_committed_features_are_the_inception_features_of_the_stored_generator(offline_data) -> None:
    """Recompute two rows per law from the stored SAGAN and the shipped Inception-v3: they match the stored ones."""
    record = gans.stored("sagan")
    if record is None:  # committed under artifacts/reference/gan-sagan: missing means its key or loader broke
        pytest.fail("the stored reference SAGAN is missing (artifacts/reference/gan-sagan/)")
    G = gans.generator("sagan", record, gans.REFERENCE_GANS["sagan"].width, gmm_features.NZ)
    inception = fid.InceptionFeatures(optimize=True)
    for cfg in gmm_features.CONFIGS.values():
        entries = gmm_features.stored(cfg)
        assert entries is not None, "features missing: run `python -m gancnn.reference gmm-features`"
        assert [tuple(e["features"].shape) for e in entries] == [(cfg.n_per_class, fid.FEATURE_DIM)] * len(cfg.classes)
        label = cfg.classes[-1]
        images = gmm_features.class_images(G, cfg, label)
        # the same images up to rounding: another CPU's kernels may move a value across a uint8 step (measured on
        # an AVX-512 machine: one value in 24,576 by one level), never further
        step = (images[: cfg.n_shown].int() - entries[-1]["images"].int()).abs()
        assert int(step.max()) <= 1 and float((step > 0).float().mean()) < 1e-3
        again = inception(images[-2:], progress=False)
        np.testing.assert_allclose(again, entries[-1]["features"][-2:].double().numpy(), rtol=1e-3, atol=1e-3)
