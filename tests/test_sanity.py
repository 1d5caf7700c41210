"""Saliency sanity checks (cascading randomisation) and deletion curves of gancnn.adjoint.sanity."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from gancnn.adjoint import sanity
from gancnn.adjoint import training as ct
from gancnn.reference import classifiers


def test_input_gradient_of_a_linear_model_is_its_weight_row() -> None:
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(12, 3, bias=False)).double()
    x = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 1, 0])
    grad = sanity.input_gradient(lin, x, targets)
    assert torch.allclose(grad.flatten(1), lin[1].weight[targets].detach())


def test_rank_similarity_is_one_for_the_same_map_and_small_for_noise() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4, 3, 16, 16, generator=gen)
    assert np.allclose(sanity.rank_similarity(a, a), 1.0)
    assert np.allclose(sanity.rank_similarity(a, -2 * a), 1.0)  # absolute maps
    assert np.abs(sanity.rank_similarity(a, torch.randn(4, 3, 16, 16, generator=gen))).max() < 0.2


def test_weight_layers_run_from_the_output_back() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    assert sanity.weight_layers(model) == ["3", "0"]


def test_deletion_ranks_a_linear_model_exactly() -> None:
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(48, 2, bias=False)).double()
    x = torch.rand(3, 4, 4, dtype=torch.float64)
    w = lin[1].weight.detach()
    contribution = ((w[0] - w[1]) * x.flatten()).view(3, 4, 4)  # exact effect of each pixel on logit 0 - logit 1
    best = sanity.area(sanity.deletion_curve(lin, x, 0, contribution))
    worst = sanity.area(sanity.deletion_curve(lin, x, 0, -contribution))
    rand = sanity.area(sanity.deletion_curve(lin, x, 0, torch.rand(3, 4, 4, dtype=torch.float64)))
    assert best < rand < worst
    curve = sanity.deletion_curve(lin, x, 0, contribution, steps=4)
    assert len(curve) == 5 and np.isclose(curve[-1], 0.5)  # an empty image: equal logits


def test_randomising_every_layer_destroys_the_maps_of_the_trained_vgg7(offline_data) -> None:
    found = classifiers.reference_model("vgg7")
    if found is None:
        pytest.fail("the stored reference weights of vgg7 are missing (artifacts/reference/)")
    model = found[0].eval()
    x, _, _ = ct.test_set("cifar10", 4, seed=0)
    x = ct.normalize(x)
    targets = model(x).argmax(1)
    steps = sanity.cascading_randomization(model, x, targets, seed=0)
    assert [step.layer for step in steps] == sanity.weight_layers(model)
    assert steps[0].rank_mean < 0.8  # the class layer alone already changes the maps
    assert steps[-1].rank_mean < 0.4  # with every layer re-initialised little of the trained ranking is left
    assert steps[-1].ssim_mean < steps[0].ssim_mean
    assert sanity.input_gradient(model, x, targets).abs().sum() > 0  # the original model is untouched


def test_two_random_copies_have_a_low_floor() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 256, 4))
    x = torch.randn(6, 3, 16, 16)
    floor = sanity.random_pair_similarity(model, x, torch.zeros(6, dtype=torch.long), seeds=(1, 2))
    assert -0.5 < floor["rank"] < 0.5


def test_ssim_is_one_for_the_same_map_and_low_for_noise() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, 32, 32, generator=gen)
    assert np.allclose(sanity.ssim_similarity(a, -3 * a), 1.0)  # absolute maps, scaled to their maximum
    assert sanity.ssim_similarity(a, torch.randn(3, 3, 32, 32, generator=gen)).max() < 0.3


def test_ssim_of_two_constant_maps_is_the_luminance_term() -> None:
    a = torch.full((1, 1, 32, 32), 2.0)  # scaled to max 1: all ones
    b = torch.full((1, 1, 32, 32), 0.5)
    b[..., 0, 0] = 1.0  # one corner pixel sets the maximum: b scales to 0.5 nearly everywhere
    c1 = 0.01**2
    expected = (2 * 1.0 * 0.5 + c1) / (1.0 + 0.25 + c1)  # mu_a = 1, mu_b = 0.5, no variance: (2 mu mu + C1) / (...)
    assert abs(sanity.ssim_similarity(a, b)[0] - expected) < 0.02


def _small_bn_net() -> nn.Module:
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, padding=1, bias=False),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(5 * 8 * 8, 3),
    ).double()
    for bn in (net[1], net[5]):  # non-trivial running statistics and affine parameters
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.5, 0.5)
    return net.eval()


def test_fullgrad_parts_are_complete_they_sum_to_the_logit() -> None:
    net = _small_bn_net()
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64)
    targets = torch.tensor([0, 2, 1, 2])
    image, parts = sanity.fullgrad_parts(net, x, targets)
    assert [name for name, _ in parts] == ["0", "1", "5", "8"]  # conv bias, both batch norms, the class layer
    total = image.flatten(1).sum(1) + sum(p.flatten(1).sum(1) for _, p in parts)
    logits = net(x).gather(1, targets.view(-1, 1))[:, 0]
    assert torch.allclose(total, logits, atol=1e-10)
    dropped = image.flatten(1).sum(1) + sum(p.flatten(1).sum(1) for name, p in parts if name != "1")
    assert not torch.allclose(dropped, logits, atol=1e-3)  # the batch-norm shift is a real part of the sum


def test_fullgrad_parts_include_fixup_scalar_biases_and_are_complete() -> None:
    """Fixup's scalar biases (stem and four per block) are bias parts too: with them the parts sum to the logit."""
    from gancnn.adjoint.backmap import bias_gradient_decomposition
    from gancnn.models.resnet20 import FixupResNet20, ScalarBias

    torch.manual_seed(5)
    net = FixupResNet20(num_classes=4, bias=True)
    for block in net.blocks:  # Fixup starts the branch-final convs at zero: give them weights
        nn.init.kaiming_normal_(block.conv2.weight, nonlinearity="relu")
        nn.init.uniform_(block.mult.scale, 0.5, 1.5)
    nn.init.normal_(net.fc.weight, std=0.2)
    scalars = [m for m in net.modules() if isinstance(m, ScalarBias)]
    for m in scalars:  # nonzero scalar biases (they start at zero)
        nn.init.uniform_(m.bias, -0.5, 0.5)
    net.eval()
    x = torch.randn(3, 3, 8, 8)
    targets = torch.tensor([0, 3, 1])
    image, parts = sanity.fullgrad_parts(net, x, targets)
    assert len(parts) == len(scalars) == 37
    logits = net(x).gather(1, targets.view(-1, 1))[:, 0].detach()
    bias_sum = sum(p.flatten(1).sum(1) for _, p in parts)
    total = image.flatten(1).sum(1) + bias_sum
    scale = float(logits.abs().max())
    assert float((total - logits).abs().max()) <= 1e-4 * scale
    assert float((image.flatten(1).sum(1) - logits).abs().max()) > 1e-2 * scale  # the biases matter here
    for i in range(len(x)):  # the same split by plain autograd on the bias parameters
        image_part, bias_part = bias_gradient_decomposition(net, x[i : i + 1], int(targets[i]))
        assert abs(float(bias_sum[i] - bias_part)) <= 1e-4 * scale
        assert abs(float(image[i].sum() - image_part)) <= 1e-4 * scale


def test_fullgrad_of_a_bias_free_network_is_its_normalised_input_part() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(256, 2, bias=False)
    )
    x = torch.randn(2, 3, 8, 8)
    targets = torch.tensor([1, 0])
    sal = sanity.fullgrad(net, x, targets)
    ixg = (sanity.input_gradient(net, x, targets) * x).abs().sum(1)
    lo, hi = ixg.flatten(1).min(1).values, ixg.flatten(1).max(1).values
    assert sal.shape == (2, 1, 8, 8)
    assert torch.allclose(sal[:, 0], (ixg - lo.view(-1, 1, 1)) / (hi - lo).view(-1, 1, 1), atol=1e-6)


def test_insertion_mirrors_deletion_on_a_linear_model() -> None:
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(48, 2, bias=False)).double()
    x = torch.rand(3, 4, 4, dtype=torch.float64)
    w = lin[1].weight.detach()
    contribution = ((w[0] - w[1]) * x.flatten()).view(3, 4, 4)
    ins = sanity.insertion_curve(lin, x, 0, contribution, steps=4)
    dele = sanity.deletion_curve(lin, x, 0, contribution, steps=4)
    assert np.isclose(ins[0], 0.5) and np.isclose(ins[-1], dele[0])  # empty image first, intact image last
    best = sanity.area(sanity.insertion_curve(lin, x, 0, contribution))
    worst = sanity.area(sanity.insertion_curve(lin, x, 0, -contribution))
    assert best > worst


def test_a_network_compared_with_itself_is_identical_and_with_a_fresh_copy_is_not() -> None:
    net = _small_bn_net().float()
    x = torch.randn(4, 3, 16, 16)
    targets = torch.tensor([0, 1, 2, 0])
    same = sanity.model_similarity(net, copy.deepcopy(net), x, targets)
    assert np.isclose(same["rank"], 1.0) and np.isclose(same["ssim"], 1.0)
    other = sanity.random_pair_similarity(net, x, targets, seeds=(1, 2))
    assert other["rank"] < 0.9 and other["ssim"] < 0.9
