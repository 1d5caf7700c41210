"""Tests for gancnn.gan.lipschitz: operator norms and the generator bound."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gancnn.gan import lipschitz, spectral
from gancnn.models import biggan_deep as bgd
from gancnn.models import resnet50_imagenet as r50


def test_conv_operator_norm_matches_dense_svd() -> None:
    """Power iteration on the convolution equals the top singular value of its dense matrix, below sqrt(k) sigma."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1).double()
    with torch.no_grad():  # same-sign taps: a well separated top singular value, so 300 steps converge
        conv.weight.mul_(0.2).add_(0.5)
    fn = lambda x: F.conv2d(x, conv.weight, None, padding=1)  # noqa: E731
    dense = torch.autograd.functional.jacobian(fn, torch.zeros(1, 3, 5, 5, dtype=torch.float64)).reshape(4 * 25, 3 * 25)
    exact = torch.linalg.matrix_norm(dense, ord=2).item()
    assert abs(lipschitz.conv_operator_norm(conv, 5, 5, n_iter=300) - exact) < 1e-6 * exact
    kernel_sigma = torch.linalg.matrix_norm(conv.weight.reshape(4, -1), ord=2).item()
    assert kernel_sigma - 1e-12 <= exact <= 3 * kernel_sigma + 1e-12


def test_upsampling_norm_is_two() -> None:
    """Nearest 2x up-sampling multiplies every norm by exactly 2."""
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    sigma, _ = spectral.jacobian_spectral_norm(lambda t: F.interpolate(t, scale_factor=2), x, 3)
    assert abs(sigma - 2) < 1e-12


def test_batchnorm_constant() -> None:
    """Diagonal BN constant max |w| / sqrt(var + eps)."""
    bn = bgd.ConditionalBatchNorm2d(3, None)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, -3.0, 2.0]))
        bn.running_vars.fill_(4.0)
    assert abs(lipschitz.batchnorm_constant(bn, None, 0.5) - 3 / math.sqrt(4 + 1e-4)) < 1e-6


def test_bound_dominates_empirical_estimates() -> None:
    """On a tiny generator the layer-wise bound exceeds every empirical (lower) estimate."""
    torch.manual_seed(0)
    g = bgd.biggan_deep(32, 2, z_dim=8, n_classes=4, attention_resolution=16).eval()
    labels = torch.tensor([1])
    z = bgd.truncated_noise(2, 8, 0.5, torch.Generator().manual_seed(0))
    res = lipschitz.study(g, labels, z, 0.5, n_iter=5)
    loose, tight = res["bound_sqrt_k_sigma"], res["bound_exact_conv"]
    assert tight <= loose * (1 + 1e-5)
    assert abs(tight - math.prod(res["layer_exact"])) <= 1e-9 * tight
    assert 0 < res["max_jacobian_norm"] <= tight
    assert res["max_ratio_top_direction"] <= tight and res["max_ratio_random_direction"] <= tight
    cond = g.condition(z[:1], labels).detach()
    with torch.no_grad():
        g.layers[4].gamma.fill_(0.5)
    _, layers = lipschitz.generator_bound(g, cond, 0.5)
    assert math.isinf(math.prod(l.bound for l in layers))  # attention with gamma != 0: no global constant


def test_adaptive_pool_windows_and_kernel() -> None:
    """Windows reproduce F.adaptive_avg_pool1d; the kernel formula is ceil(in/out)."""
    x = torch.randn(1, 1, 13, dtype=torch.float64)
    for n_in, n_out in [(7, 1), (13, 5), (10, 4), (4, 6)]:
        ours = torch.stack([x[..., a:b].mean(-1) for a, b in r50.adaptive_pool_windows(n_in, n_out)], -1)
        torch.testing.assert_close(ours, F.adaptive_avg_pool1d(x[..., :n_in], n_out))
        lengths = [b - a for a, b in r50.adaptive_pool_windows(n_in, n_out)]
        k = r50.adaptive_pool_kernel(n_in, n_out)
        assert k == -(-n_in // n_out) and k <= max(lengths) <= k + 1
        if n_in % n_out == 0:
            assert lengths == [k] * n_out
    assert r50.adaptive_pool_kernel(7, 1) == 7


def test_resnet_falls_back_to_random_weights() -> None:
    """'random' weights always load; the description says so; preprocessing gives 224x224 inputs."""
    model, text = r50.load_resnet50("random")
    assert "RANDOM" in text
    x = r50.preprocess(torch.zeros(2, 3, 32, 32))
    assert x.shape == (2, 3, 224, 224)
    with pytest.raises(ValueError):
        r50.load_resnet50("pretrained")


def test_resnet50_offline_without_cached_weights_does_not_try_to_download(monkeypatch, tmp_path) -> None:
    """With downloads off and an empty hub cache, 'auto' says why it uses random weights (no download attempt)."""
    import torch

    monkeypatch.setenv("GANCNN_DOWNLOAD", "0")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    model, text = r50.load_resnet50("auto")
    assert "downloads are disabled" in text and "RANDOM" in text
    with pytest.raises(RuntimeError, match="downloads are disabled"):
        r50.load_resnet50("imagenet")
