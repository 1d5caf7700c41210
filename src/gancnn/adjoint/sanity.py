"""Sanity checks for saliency maps (Adebayo et al. 2018), FullGrad and faithfulness curves, for the RM0 maps.

For a bias-free network the RM0 hypersurface of class k is the input gradient of logit k, and its
contribution map H_k * x is gradient x input. Two questions a reader should ask of such maps:

* *Do they depend on what the network learned?* Cascading model-parameter randomisation re-initialises
  the weight layers from the top down, and data randomisation compares with a network of the same
  architecture trained on shuffled labels; both measure how similar the maps stay to the trained ones
  (Spearman rank correlation and SSIM of the absolute maps, per image).
* *Do they point at what the network uses?* A deletion curve removes pixels (sets them to the
  normalised mean, 0) in the order an attribution ranks them and follows the class's softmax
  probability; a faithful ranking makes it fall faster than a random one (smaller area). An insertion
  curve starts from the empty image and puts the pixels back in that order (larger area is better).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from skimage.metrics import structural_similarity
from torch import nn

from gancnn.adjoint.backmap import input_gradient
from gancnn.models.resnet20 import ScalarBias

__all__ = [
    "CascadeStep",
    "area",
    "cascading_randomization",
    "deletion_curve",
    "fullgrad",
    "fullgrad_parts",
    "input_gradient",
    "insertion_curve",
    "map_similarity",
    "model_similarity",
    "random_pair_similarity",
    "rank_similarity",
    "ssim_similarity",
    "weight_layers",
]


@dataclass(frozen=True)
class CascadeStep:
    """One step of cascading randomisation: the layer re-initialised last and the similarity left."""

    layer: str
    rank_mean: float
    rank_min: float
    ssim_mean: float


def weight_layers(model: nn.Module) -> list[str]:
    """Names of the convolution and linear layers, from the output back to the input (the cascade's order)."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return names[::-1]


def _magnitude(maps: torch.Tensor) -> np.ndarray:
    """|map| summed over channels, as (N, H, W) float64."""
    return maps.detach().abs().sum(1).double().numpy()


def rank_similarity(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman rank correlation of |a| and |b| per item of a batch (maps summed over channels first)."""
    flat_a = _magnitude(a).reshape(len(a), -1)
    flat_b = _magnitude(b).reshape(len(b), -1)
    return np.array([stats.spearmanr(u, v).statistic for u, v in zip(flat_a, flat_b, strict=True)])


def ssim_similarity(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """SSIM of |a| and |b| per item (channels summed, each map scaled to [0, 1] by its maximum, Gaussian window)."""
    out = []
    for u, v in zip(_magnitude(a), _magnitude(b), strict=True):
        u = u / u.max() if u.max() > 0 else u
        v = v / v.max() if v.max() > 0 else v
        out.append(
            structural_similarity(u, v, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        )
    return np.array(out)


def map_similarity(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """Mean rank correlation and mean SSIM of two batches of maps."""
    return {"rank": float(rank_similarity(a, b).mean()), "ssim": float(ssim_similarity(a, b).mean())}


def model_similarity(a: nn.Module, b: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """How alike the input-gradient maps of two networks are on the same images and classes."""
    return map_similarity(input_gradient(a, x, targets), input_gradient(b, x, targets))


def _reinitialised(model: nn.Module, seed: int) -> nn.Module:
    """A copy of the network with every weight layer re-initialised (seeded)."""
    fresh = copy.deepcopy(model).eval()
    modules = dict(fresh.named_modules())
    torch.manual_seed(seed)
    for name in weight_layers(fresh):
        modules[name].reset_parameters()
    return fresh


def cascading_randomization(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, seed: int = 0
) -> list[CascadeStep]:
    """Similarity of the maps to the trained ones after each step of re-initialising layers from the top."""
    trained = input_gradient(model, x, targets)
    damaged = copy.deepcopy(model).eval()
    modules = dict(damaged.named_modules())
    torch.manual_seed(seed)
    out = []
    for name in weight_layers(damaged):
        modules[name].reset_parameters()
        maps = input_gradient(damaged, x, targets)
        rank = rank_similarity(trained, maps)
        out.append(
            CascadeStep(name, float(rank.mean()), float(rank.min()), float(ssim_similarity(trained, maps).mean()))
        )
    return out


def random_pair_similarity(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, seeds: tuple[int, int]
) -> dict[str, float]:
    """Similarity of the maps of two independently re-initialised copies (the floor of the cascade)."""
    return model_similarity(_reinitialised(model, seeds[0]), _reinitialised(model, seeds[1]), x, targets)


def _bias_of(module: nn.Module) -> torch.Tensor | None:
    """The bias a layer adds to its output (batch norm: its running-statistics shift; Fixup: one scalar), or None.

    A Fixup scalar bias adds the same constant to every channel and pixel, so its part is grad_output * b.
    """
    if isinstance(module, ScalarBias):
        return module.bias
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        scale = module.weight / torch.sqrt(module.running_var + module.eps)
        return module.bias - scale * module.running_mean
    if isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
        return module.bias
    return None


def fullgrad_parts(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]:
    """Input-gradient x input and, per bias-carrying layer, bias-gradient x bias (Srinivas and Fleuret 2019).

    The network must be in eval mode (batch norm then adds the fixed shift of its running statistics). Returns
    (grad_x * x with the image's shape, [(layer name, (N, C, ...) map of grad_output * bias)]), Fixup's scalar
    biases (`ScalarBias`) included; for a network built from piecewise-linear pieces through the origin, all of
    them summed give the chosen logit (completeness).
    """
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Callable[[nn.Module, tuple, torch.Tensor], torch.Tensor]:
        """A forward hook that records a layer's output and passes on a copy (safe under in-place activations)."""

        def hook(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> torch.Tensor:
            outputs[name] = out
            return out.clone()

        return hook

    hooks = [m.register_forward_hook(keep(n)) for n, m in model.named_modules() if _bias_of(m) is not None]
    x = x.detach().clone().requires_grad_(True)
    try:
        chosen = model(x).gather(1, targets.view(-1, 1)).sum()
    finally:
        for h in hooks:
            h.remove()
    names = list(outputs)
    grads = torch.autograd.grad(chosen, [x, *(outputs[n] for n in names)])
    modules = dict(model.named_modules())
    parts = []
    for name, g in zip(names, grads[1:], strict=True):
        b = _bias_of(modules[name]).detach()
        shape = (1, -1) + (1,) * (g.dim() - 2)
        parts.append((name, (g * b.view(shape)).detach()))
    return (grads[0] * x).detach(), parts


def _normalised(m: torch.Tensor) -> torch.Tensor:
    """FullGrad's post-processing of one (N, H, W) map: absolute value, then scaled to [0, 1] per image."""
    m = m.abs()
    flat = m.flatten(1)
    lo, hi = flat.min(1).values, flat.max(1).values
    return (m - lo.view(-1, 1, 1)) / (hi - lo).clamp_min(1e-12).view(-1, 1, 1)


def fullgrad(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The FullGrad saliency (N, 1, H, W): the normalised |input part| plus each spatial layer's bias map.

    Each spatial bias map is |grad * bias| summed over channels, resized to the image bilinearly and normalised,
    as in the FullGrad paper; non-spatial (linear) biases carry no location and are left out of the map.
    """
    image, parts = fullgrad_parts(model, x, targets)
    size = x.shape[-2:]
    total = _normalised(image.abs().sum(1))
    for _, part in parts:
        if part.dim() != 4:
            continue
        m = F.interpolate(part.abs().sum(1, keepdim=True), size=size, mode="bilinear", align_corners=False)
        total = total + _normalised(m[:, 0])
    return total.unsqueeze(1)


@torch.no_grad()
def _masked_curve(
    model: nn.Module, x: torch.Tensor, target: int, attribution: torch.Tensor, steps: int, insert: bool
) -> np.ndarray:
    """Class probability as the top-ranked pixels are removed from x (or put back onto the empty image)."""
    c, h, w = x.shape
    order = torch.argsort(attribution.sum(0).flatten(), descending=True)
    batch = x.unsqueeze(0).repeat(steps + 1, 1, 1, 1)
    for i in range(steps + 1):
        top = order[: round(i * h * w / steps)]
        mask = torch.zeros(h * w, dtype=x.dtype) if insert else torch.ones(h * w, dtype=x.dtype)
        mask[top] = 1 if insert else 0
        batch[i] = x * mask.view(1, h, w)
    return torch.softmax(model(batch), dim=1)[:, target].numpy()


def deletion_curve(
    model: nn.Module, x: torch.Tensor, target: int, attribution: torch.Tensor, steps: int = 16
) -> np.ndarray:
    """Softmax probability of `target` as pixels are set to 0 in decreasing order of the attribution (one image).

    `attribution` has the image's spatial shape (C or 1, H, W) and is summed over channels to rank pixels; step i
    removes the first i/steps of them. Returns steps + 1 probabilities, from the intact image to the empty one.
    """
    return _masked_curve(model, x, target, attribution, steps, insert=False)


def insertion_curve(
    model: nn.Module, x: torch.Tensor, target: int, attribution: torch.Tensor, steps: int = 16
) -> np.ndarray:
    """Softmax probability of `target` as pixels are put back onto the empty (all-0) image in attribution order.

    Returns steps + 1 probabilities, from the empty image to the intact one; a faithful ranking rises early.
    """
    return _masked_curve(model, x, target, attribution, steps, insert=True)


def area(curve: np.ndarray) -> float:
    """Area under a curve sampled at equal steps on [0, 1] (trapezoid rule)."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))
