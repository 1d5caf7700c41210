"""Saliency sanity checks (cascading randomisation) and deletion curves of gancnn.adjoint.sanity."""

from __future__ import annotations

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
    assert [name for name, _, _ in steps] == sanity.weight_layers(model)
    assert steps[0][1] < 0.8  # the class layer alone already changes the maps
    assert steps[-1][1] < 0.4  # with every layer re-initialised little of the trained ranking is left
    assert sanity.input_gradient(model, x, targets).abs().sum() > 0  # the original model is untouched


def test_two_random_copies_have_a_low_floor() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 4))
    x = torch.randn(6, 3, 8, 8)
    floor = sanity.random_pair_similarity(model, x, torch.zeros(6, dtype=torch.long), seeds=(1, 2))
    assert -0.5 < floor < 0.5
