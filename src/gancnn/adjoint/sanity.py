"""Sanity checks for saliency maps (Adebayo et al. 2018) and a faithfulness measure, for the RM0 hypersurfaces.

For a bias-free network the RM0 hypersurface of class k is the input gradient of logit k, and its
contribution map H_k * x is gradient x input. Two questions a reader should ask of such maps:

* *Do they depend on what the network learned?* Cascading model-parameter randomisation re-initialises
  the weight layers from the top down and measures how similar the maps of the damaged network stay
  to the trained ones (Spearman rank correlation of the absolute maps, per image).
* *Do they point at what the network uses?* A deletion curve removes pixels (sets them to the
  normalised mean, 0) in the order an attribution ranks them and follows the class's softmax
  probability; a faithful ranking makes it fall faster than a random one (smaller area).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy import stats
from torch import nn


def input_gradient(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d logit_{targets[i]} / d x_i for a batch (the RM0 image hypersurface of a bias-free network)."""
    x = x.detach().clone().requires_grad_(True)
    out = model(x)
    chosen = out.gather(1, targets.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(chosen, x)
    return grad.detach()


def weight_layers(model: nn.Module) -> list[str]:
    """Names of the convolution and linear layers, from the output back to the input (the cascade's order)."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return names[::-1]


def rank_similarity(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman rank correlation of |a| and |b| per item of a batch (maps summed over channels first)."""
    flat_a = a.abs().sum(1).flatten(1).numpy()
    flat_b = b.abs().sum(1).flatten(1).numpy()
    return np.array([stats.spearmanr(u, v).statistic for u, v in zip(flat_a, flat_b, strict=True)])


def cascading_randomization(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, seed: int = 0
) -> list[tuple[str, float, float]]:
    """(layer re-initialised down to, mean and min rank similarity to the trained maps) for each step of the cascade."""
    trained = input_gradient(model, x, targets)
    damaged = copy.deepcopy(model).eval()
    modules = dict(damaged.named_modules())
    torch.manual_seed(seed)
    out = []
    for name in weight_layers(damaged):
        modules[name].reset_parameters()
        sim = rank_similarity(trained, input_gradient(damaged, x, targets))
        out.append((name, float(sim.mean()), float(sim.min())))
    return out


@torch.no_grad()
def deletion_curve(
    model: nn.Module, x: torch.Tensor, target: int, attribution: torch.Tensor, steps: int = 16
) -> np.ndarray:
    """Softmax probability of `target` as pixels are set to 0 in decreasing order of the attribution (one image).

    `attribution` has the image's shape (C, H, W) and is summed over channels to rank pixels; step i removes the
    first i/steps of them. Returns steps + 1 probabilities, from the intact image to the empty one.
    """
    c, h, w = x.shape
    order = torch.argsort(attribution.sum(0).flatten(), descending=True)
    batch = x.unsqueeze(0).repeat(steps + 1, 1, 1, 1)
    for i in range(1, steps + 1):
        removed = order[: round(i * h * w / steps)]
        mask = torch.ones(h * w, dtype=x.dtype)
        mask[removed] = 0
        batch[i] = x * mask.view(1, h, w)
    return torch.softmax(model(batch), dim=1)[:, target].numpy()


def area(curve: np.ndarray) -> float:
    """Area under a curve sampled at equal steps on [0, 1] (trapezoid rule)."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def random_pair_similarity(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, seeds: tuple[int, int]) -> float:
    """Mean rank similarity of the maps of two independently re-initialised copies (the floor of the cascade)."""
    maps = []
    for seed in seeds:
        fresh = copy.deepcopy(model).eval()
        modules = dict(fresh.named_modules())
        torch.manual_seed(seed)
        for name in weight_layers(fresh):
            modules[name].reset_parameters()
        maps.append(input_gradient(fresh, x, targets))
    return float(rank_similarity(*maps).mean())
