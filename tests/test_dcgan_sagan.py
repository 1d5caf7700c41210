"""Tests of the DCGAN and SAGAN networks: shapes, spectral normalisation, attention maps, conditioning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gancnn.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancnn.models.sagan import SAGANDiscriminator, SAGANGenerator, one_hot
from gancnn.models.selfattention import SelfAttention2d


def test_dcgan_shapes_and_range() -> None:
    """G maps (B, nz) to (B, 3, 32, 32) in [-1, 1]; D maps images to (B,) logits."""
    G, D = DCGANGenerator(nz=100, ngf=8), DCGANDiscriminator(ndf=8)
    x = G(torch.randn(4, 100))
    assert x.shape == (4, 3, 32, 32) and x.abs().max() <= 1
    assert D(x).shape == (4,)
    with pytest.raises(ValueError):
        G(torch.randn(4, 99))


def test_sagan_shapes_and_attention_maps() -> None:
    """SAGAN G and D take labels and return their attention maps over 16x16 and 8x8 positions."""
    G, D = SAGANGenerator(nz=100, n_classes=10, ngf=16), SAGANDiscriminator(n_classes=10, ndf=16)
    z, y = torch.randn(3, 100), torch.tensor([0, 4, 9])
    x, beta_g = G(z, y, return_attention=True)
    assert x.shape == (3, 3, 32, 32) and beta_g.shape == (3, 256, 256)
    score, beta_d = D(x, y, return_attention=True)
    assert score.shape == (3,) and beta_d.shape == (3, 64, 64)
    assert torch.allclose(beta_g.sum(-1), torch.ones(3, 256), atol=1e-5)


def test_sagan_attention_starts_as_identity() -> None:
    """gamma = 0 at initialisation: the attention layer returns its input unchanged."""
    G = SAGANGenerator(ngf=16)
    assert G.attention.gamma.item() == 0.0
    layer = SelfAttention2d(16, spectral=True)
    h = torch.randn(2, 16, 8, 8)
    assert torch.equal(layer(h), h)


def test_every_sagan_weight_is_spectrally_normalised() -> None:
    """Every convolution, transposed convolution and dense layer of SAGAN G and D carries a spectral_norm."""
    for net in (SAGANGenerator(ngf=16), SAGANDiscriminator(ndf=16)):
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
        assert layers and all(hasattr(m, "parametrizations") and hasattr(m.parametrizations, "weight") for m in layers)


def test_discriminator_params_follow_the_source_table() -> None:
    """At width 64 the SAGAN D has the source's layer widths (64, 128, 256, 512) and a 8192 + 10 input head."""
    D = SAGANDiscriminator(ndf=64)
    assert D.head.in_features == 4 * 4 * 512 + 10
    out = D.down(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 128, 8, 8)


def test_labels_change_the_conditional_generator_output() -> None:
    """The label enters G: same noise, different labels, different images; bad labels fail."""
    G = SAGANGenerator(ngf=16).eval()
    z = torch.randn(1, 100)
    assert not torch.allclose(G(z, torch.tensor([0])), G(z, torch.tensor([5])))
    with pytest.raises(ValueError):
        one_hot(torch.tensor([10]), 10)


def _class_offsets(D: SAGANDiscriminator, x: torch.Tensor) -> torch.Tensor:
    """D(x, c) - D(x, 0) for every image and class: (B, 10)."""
    with torch.no_grad():
        scores = torch.stack([D(x, torch.full((len(x),), c)) for c in range(10)], dim=1)
    return scores - scores[:, :1]


def test_concatenated_label_adds_only_a_class_constant_and_projection_does_not() -> None:
    """With the source's concat head, D(x, c) - D(x, c') is the same number for every image x, so it cancels in
    a WGAN loss whose real and fake terms share the labels; the projection head makes it depend on x."""
    torch.manual_seed(0)
    x = torch.randn(6, 3, 32, 32)
    concat, projection = SAGANDiscriminator(10, 16).eval(), SAGANDiscriminator(10, 16, conditioning="projection").eval()
    offsets = _class_offsets(concat, x)
    assert (offsets - offsets[:1]).abs().max() < 1e-5 and offsets[0].abs().max() > 1e-4
    assert (_class_offsets(projection, x) - _class_offsets(projection, x)[:1]).abs().max() > 1e-3
    real, fake, labels = torch.randn(8, 3, 32, 32), torch.randn(8, 3, 32, 32), torch.randint(10, (8,))
    shuffled = labels[torch.randperm(8)]
    with torch.no_grad():
        loss = concat(fake, labels).mean() - concat(real, labels).mean()
        other = concat(fake, shuffled).mean() - concat(real, shuffled).mean()
    assert abs(loss - other) < 1e-5  # the critic's loss does not see which label goes with which image
    with pytest.raises(ValueError):
        SAGANDiscriminator(10, 16, conditioning="film")
    with pytest.raises(ValueError):
        projection(x, torch.full((6,), 10))
