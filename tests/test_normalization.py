"""Tests for gancnn.conv.normalization: one template, four torch layers."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from gancnn.conv import normalization


def _layers(channels: int, shape: tuple[int, ...], gamma: torch.Tensor, beta: torch.Tensor) -> dict[str, nn.Module]:
    """The four torch layers with the template's per-channel affine parameters."""
    layers = {
        "batch": nn.BatchNorm2d(channels).train(),
        "layer": nn.LayerNorm(list(shape[1:])),
        "instance": nn.InstanceNorm2d(channels, affine=True),
        "group": nn.GroupNorm(32, channels),
    }
    with torch.no_grad():
        for method, layer in layers.items():
            layer.double()
            g = gamma.view(-1, 1, 1).expand(shape[1:]) if method == "layer" else gamma
            b = beta.view(-1, 1, 1).expand(shape[1:]) if method == "layer" else beta
            layer.weight.copy_(g)
            layer.bias.copy_(b)
    return layers


@pytest.mark.parametrize("method", normalization.METHODS)
def test_template_equals_torch(method: str) -> None:
    """template_normalize equals BatchNorm2d (train), LayerNorm, InstanceNorm2d, GroupNorm(32)."""
    torch.manual_seed(0)
    shape = (3, 64, 4, 5)
    x = 2 * torch.randn(shape, dtype=torch.float64) - 1
    gamma, beta = torch.randn(64, dtype=torch.float64), torch.randn(64, dtype=torch.float64)
    layer = _layers(64, shape, gamma, beta)[method]
    with torch.no_grad():
        assert torch.allclose(normalization.template_normalize(x, method, gamma, beta), layer(x), atol=1e-12)


def test_select_sets_match_the_rules() -> None:
    """select_set spells out exactly the sets of the written rules, by brute force."""
    shape = (2, 4, 2, 3)
    groups = 2
    every = list(itertools.product(*(range(s) for s in shape)))
    rules = {
        "batch": lambda a, b: a[1] == b[1],
        "layer": lambda a, b: a[0] == b[0],
        "instance": lambda a, b: a[:2] == b[:2],
        "group": lambda a, b: a[0] == b[0] and a[1] // (shape[1] // groups) == b[1] // (shape[1] // groups),
    }
    for method, rule in rules.items():
        for element in every[::5]:
            assert normalization.select_set(shape, method, element, groups) == {e for e in every if rule(e, element)}


def test_sets_have_zero_mean() -> None:
    """Before the affine map every selected set has mean zero."""
    torch.manual_seed(1)
    x = torch.randn(2, 32, 3, 3, dtype=torch.float64) + 5
    xbar = normalization.template_normalize(x, "group", groups=8)
    assert torch.allclose(xbar.view(2, 8, -1).mean(-1), torch.zeros(2, 8, dtype=torch.float64), atol=1e-12)


def test_bad_arguments() -> None:
    """Unknown methods and indivisible groups fail."""
    with pytest.raises(ValueError):
        normalization.select_keys((1, 6, 2, 2), "weight")
    with pytest.raises(ValueError):
        normalization.select_keys((1, 6, 2, 2), "group", groups=4)


def test_group_norm_special_cases_and_batch_norm_running_variance() -> None:
    """G=1 is layer norm, G=C is instance norm; BN stores the unbiased variance as running_var."""
    torch.manual_seed(2)
    x = torch.randn(3, 8, 4, 4, dtype=torch.float64) * 2 + 1
    gamma, beta = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    tn = normalization.template_normalize
    assert torch.allclose(tn(x, "group", gamma, beta, groups=1), tn(x, "layer", gamma, beta), atol=1e-12)
    assert torch.allclose(tn(x, "group", gamma, beta, groups=8), tn(x, "instance", gamma, beta), atol=1e-12)
    bn = nn.BatchNorm2d(8, momentum=1.0).double().train()
    with torch.no_grad():
        bn(x)
    n = 3 * 4 * 4
    assert torch.allclose(bn.running_var, x.var(dim=(0, 2, 3), unbiased=False) * n / (n - 1), atol=1e-12)


def test_layer_norm_keeps_the_sum_of_the_weights_not_their_l1_norm() -> None:
    from gancnn.conv.normalization import gradient_step_invariants, layer_normalized_rows

    gen = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(16, 10, generator=gen, dtype=torch.float64) + 1
    xbar = layer_normalized_rows(x)
    assert torch.allclose(xbar.mean(1), torch.zeros(16, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(xbar.pow(2).mean(1), torch.ones(16, dtype=torch.float64), atol=1e-12)
    ref = torch.nn.functional.layer_norm(x, (10,), eps=0.0)
    assert torch.allclose(xbar, ref, atol=1e-12)
    w, u = torch.randn(10, generator=gen, dtype=torch.float64), torch.randn(16, generator=gen, dtype=torch.float64)
    change = gradient_step_invariants(x, w, u, eta=0.5)
    assert change["sum_change"] < 1e-12
    assert change["l1_change"] > 0.1  # the notes' claim ||w'||_1 = ||w||_1 fails
