"""Tests for the BigGAN-deep operator model (gancnn.models.biggan_deep)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from gancnn.gan.shapes import compare, record_shapes, unexplained
from gancnn.models import biggan_deep as bgd
from gancnn.models.selfattention import SelfAttention2d


def test_conditional_bn_formula() -> None:
    """(x - mean)/sqrt(var + 1e-4) * (1 + A_w c) + A_b c, with the truncation's statistics row."""
    torch.manual_seed(0)
    bn = bgd.ConditionalBatchNorm2d(5, cond_dim=7).eval()
    with torch.no_grad():
        bn.running_means.normal_()
        bn.running_vars.uniform_(0.5, 2.0)
    x, c = torch.randn(2, 5, 3, 3), torch.randn(2, 7)
    mean, var = bn.running_means[20], bn.running_vars[20]  # truncation 0.4 = 20/50
    w = 1 + c @ bn.scale.weight.T
    b = c @ bn.offset.weight.T
    w, b = w[:, :, None, None], b[:, :, None, None]
    expected = (x - mean[:, None, None]) / torch.sqrt(var[:, None, None] + 1e-4) * w + b
    torch.testing.assert_close(bn(x, 0.4, c), expected)
    torch.testing.assert_close(bn(x, 0.4, c), F.batch_norm(x, mean, var, eps=1e-4) * w + b)


def test_truncation_interpolates_statistics() -> None:
    """Between two rows the statistics are linearly interpolated; bad truncations fail."""
    bn = bgd.ConditionalBatchNorm2d(2, None, n_stats=3)  # rows at 0, 0.5, 1
    with torch.no_grad():
        bn.running_means.copy_(torch.tensor([[0.0, 0.0], [2.0, 4.0], [4.0, 8.0]]))
    mean, _ = bn.statistics(0.75)
    torch.testing.assert_close(mean, torch.tensor([3.0, 6.0]))
    assert bgd.truncation_row(0.4, 51) == (20, 0.0)
    with pytest.raises(ValueError):
        bgd.truncation_row(0.0, 51)
    with pytest.raises(ValueError):  # a conditional BN without c
        bgd.ConditionalBatchNorm2d(2, 3)(torch.zeros(1, 2, 2, 2), 0.5, None)


def test_unconditional_bn_and_standing_stats() -> None:
    """Recording standing statistics stores the batch mean/var in every row."""
    bn = bgd.ConditionalBatchNorm2d(3, None, n_stats=4)
    bn.record_stats = True
    x = torch.randn(8, 3, 4, 4) * 3 + 1
    bn(x, 0.5)
    torch.testing.assert_close(bn.running_means, x.mean((0, 2, 3)).expand(4, 3))
    torch.testing.assert_close(bn.running_vars, x.var((0, 2, 3), unbiased=False).expand(4, 3))


@pytest.mark.parametrize("c_in,c_out,up,kind", [(16, 16, False, "g"), (16, 16, True, "gu"), (16, 8, True, "gup")])
def test_block_kinds_and_shapes(c_in: int, c_out: int, up: bool, kind: str) -> None:
    """Each block type has the right output shape and bottleneck width."""
    blk = bgd.GeneratorBlock(c_in, c_out, cond_dim=6, up=up).eval()
    out = blk(torch.randn(2, c_in, 4, 4), torch.randn(2, 6), 0.5)
    assert blk.kind == kind
    assert out.shape == (2, c_out, 8 if up else 4, 8 if up else 4)
    assert blk.conv_0.out_channels == c_in // 4


def test_channel_drop_and_skip_path() -> None:
    """With the main path silenced the block returns the first c_out channels of x, up-sampled."""
    torch.manual_seed(1)
    blk = bgd.GeneratorBlock(8, 4, cond_dim=3, up=True).eval()
    parametrize.remove_parametrizations(blk.conv_3, "weight")
    with torch.no_grad():
        blk.conv_3.weight.zero_()
        blk.conv_3.bias.zero_()
    x = torch.randn(1, 8, 3, 3)
    expected = x[:, :4].repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(blk(x, torch.randn(1, 3), 0.5), expected)
    torch.testing.assert_close(bgd.ChannelDrop(4)(x), x[:, :4])
    with pytest.raises(ValueError):
        bgd.GeneratorBlock(4, 8, cond_dim=3, up=True)


def test_layer_plan_matches_source_sequence() -> None:
    """BigGAN-deep-256 is g gu g gup g gu g gup s g gup g gup with the source's channels (eqs. 43-55)."""
    plan = bgd.layer_plan(256, 128)
    assert [s.kind for s in plan] == ["g", "gu", "g", "gup", "g", "gu", "g", "gup", "s", "g", "gup", "g", "gup"]
    assert [s.c_out for s in plan] == [2048, 2048, 2048, 1024, 1024, 1024, 1024, 512, 512, 512, 256, 256, 128]
    with pytest.raises(ValueError):
        bgd.layer_plan(100, 8)
    with pytest.raises(ValueError):
        bgd.layer_plan(64, 8, attention_resolution=128)


def test_refactor_is_reshape_then_permute() -> None:
    """Refactor: (B, H*W*C) -> (B, H, W, C) -> (B, C, H, W)."""
    x = torch.arange(2 * 4 * 4 * 3, dtype=torch.float32).view(2, -1)
    out = bgd.Refactor(3, 4)(x)
    assert out.shape == (2, 3, 4, 4)
    assert out[1, 2, 3, 1] == x[1, (3 * 4 + 1) * 3 + 2]


def test_small_generator_shapes_slice_and_range() -> None:
    """A narrow 32x32 model runs, slices to 3 channels, stays in [-1, 1]; its shape table matches its plan."""
    torch.manual_seed(0)
    g = bgd.biggan_deep(32, 4, z_dim=8, n_classes=5, attention_resolution=16).eval()
    z = bgd.truncated_noise(3, 8, 0.5, torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 4])
    records = record_shapes(g, lambda: g(z, labels, 0.5))
    shapes = {r.name: r.shape for r in records}
    assert shapes["conv_to_rgb"] == (3, 16, 32, 32) and shapes["slice"] == (3, 3, 32, 32)
    assert shapes["layers.4.softmax"] == (3, 256, 64)  # attention at 16x16: N = 256, P = 64
    assert isinstance(g.layers[4], SelfAttention2d)
    images = g.generate(z, labels, 0.5)
    assert images.shape == (3, 3, 32, 32) and images.abs().max() <= 1
    torch.testing.assert_close(images, g(z, labels, 0.5).detach())
    table = compare(records, {"slice": ((3, 3, 32, 32), "x", ""), "tanh": ((3, 3, 33, 32), "y", "")})
    assert list(table["agree"]) == ["yes", "MISMATCH"] and len(unexplained(table)) == 1


def test_noise_and_image_conversion() -> None:
    """Truncated noise lies in [-2 sigma, 2 sigma]; images map to bytes in HWC order."""
    z = bgd.truncated_noise(1000, 4, 0.3, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.6
    # the law is N(0, 1) conditioned on [-2, 2], times 0.3 (scipy's truncnorm), not N(0, 1) clipped at +-2
    from scipy import stats

    big = bgd.truncated_noise(50_000, 4, 0.3, torch.Generator().manual_seed(1)).flatten().double().numpy() / 0.3
    assert stats.kstest(big, stats.truncnorm(-2.0, 2.0).cdf).statistic < 0.01
    assert abs(big.var() - stats.truncnorm(-2.0, 2.0).var()) < 0.01 and (abs(big) == 2.0).sum() == 0
    img = bgd.to_uint8_images(torch.tensor([[[[-1.0, 1.0]], [[0.0, 0.0]], [[0.5, -0.5]]]]))
    assert img.shape == (1, 1, 2, 3) and img.dtype == torch.uint8
    assert img[0, 0, 0].tolist() == [0, 128, 192] and img[0, 0, 1].tolist() == [255, 128, 64]


def test_embedding_accepts_indices_and_one_hot() -> None:
    """E(l) = l A^T for one-hot l equals column lookup."""
    emb = bgd.ClassEmbedding(5, 3)
    one_hot = F.one_hot(torch.tensor([2, 4]), 5).float()
    torch.testing.assert_close(emb(torch.tensor([2, 4])), emb(one_hot))
    torch.testing.assert_close(emb(torch.tensor([2])), emb.weight[:, 2][None])
