"""Adversarial examples for the CIFAR classifiers, through torchattacks' basic iterative method (BIM).

The classifiers of the AdjointBackMap chapters read *normalised* images, (x/255 - mean) / std. The
attacks run in pixel space [0, 1] (where torchattacks clips) on a wrapper that normalises inside, and
the source's step factor, 0.04 *in normalised units* (section 4.2.1: about 5x the 0.007 of
Goodfellow et al., because the channel stds are about 0.2), is converted to pixels with the mean std.
Perturbations `Advr` are always reported in normalised units: Advr = normalise(x_adv) - normalise(x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchattacks
from torch import nn

from gancnn.adjoint.training import SOURCE_MEAN, SOURCE_STD

SOURCE_STEP = 0.04  # the source's BIM factor on normalised inputs (section 4.2.1)


class PixelSpaceModel(nn.Module):
    """A classifier of normalised images seen as a function of pixels in [0, 1]."""

    def __init__(
        self, model: nn.Module, mean: tuple[float, ...] = SOURCE_MEAN, std: tuple[float, ...] = SOURCE_STD
    ) -> None:
        """Wrap `model`; mean and std are the per-channel normalisation constants."""
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def normalize(self, x01: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] to the model's normalised input."""
        return (x01 - self.mean) / self.std

    def to_pixels(self, x_norm: torch.Tensor) -> torch.Tensor:
        """Normalised input back to pixels in [0, 1]."""
        return x_norm * self.std + self.mean

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """Logits of the wrapped model."""
        return self.model(self.normalize(x01))


def normalized_to_pixel_step(step: float, std: tuple[float, ...] = SOURCE_STD) -> float:
    """A step in normalised units as a pixel-space step (times the mean channel std)."""
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    return float(step * sum(std) / len(std))


def _bim(model: PixelSpaceModel, eps: float, step: float, steps: int) -> torchattacks.BIM:
    """torchattacks.BIM with budget eps and step given in normalised units."""
    if eps <= 0 or steps < 1:
        raise ValueError(f"need eps > 0 and steps >= 1, got eps={eps}, steps={steps}")
    return torchattacks.BIM(
        model.eval(),
        eps=normalized_to_pixel_step(eps, tuple(model.std.flatten().tolist())),
        alpha=normalized_to_pixel_step(step, tuple(model.std.flatten().tolist())),
        steps=steps,
    )


def kurakin_steps(eps: float, step: float) -> int:
    """Iterations for budget eps and step size (Kurakin et al.'s rule min(eps/step + 4, 1.25 eps/step))."""
    return max(1, math.ceil(min(eps / step + 4, 1.25 * eps / step)))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted classes (eval mode)."""
    return model.eval()(x).argmax(1)


def bim_untargeted(
    model: PixelSpaceModel,
    x01: torch.Tensor,
    labels: torch.Tensor,
    eps: float = 4 * SOURCE_STEP,
    step: float = SOURCE_STEP,
    steps: int = 10,
) -> torch.Tensor:
    """Untargeted BIM (Kurakin et al.): adversarial pixels for a batch, eps and step in normalised units."""
    return _bim(model, eps, step, steps)(x01, labels).detach()


def bim_untargeted_growing(
    model: PixelSpaceModel, x01: torch.Tensor, label: int, eps_grid: tuple[float, ...], step: float = SOURCE_STEP
) -> tuple[torch.Tensor, float, bool]:
    """Untargeted BIM on one image (C, H, W), budgets tried from small to large until the prediction flips.

    Each budget runs kurakin_steps(eps, step) iterations. Returns (adversarial pixels, eps used, success).
    """
    adv, eps = x01, float("nan")
    for eps in sorted(eps_grid):
        adv = bim_untargeted(model, x01[None], torch.tensor([label]), eps, step, kurakin_steps(eps, step))[0]
        if int(predict(model, adv[None])[0]) != label:
            return adv, eps, True
    return adv, eps, False


def bim_targeted(
    model: PixelSpaceModel,
    x01: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    step: float = SOURCE_STEP,
    steps: int = 10,
) -> torch.Tensor:
    """Targeted iterative attack (BIM descending the target's cross-entropy) towards given classes."""
    attack = _bim(model, eps, step, steps)
    attack.set_mode_targeted_by_label(quiet=True)
    return attack(x01, targets).detach()


def bim_least_likely(
    model: PixelSpaceModel,
    x01: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    step: float = SOURCE_STEP,
    steps: int = 10,
) -> torch.Tensor:
    """Iterative least-likely-class method: targeted BIM towards each image's least likely class."""
    attack = _bim(model, eps, step, steps)
    attack.set_mode_targeted_least_likely(quiet=True)
    return attack(x01, labels).detach()


@dataclass
class TargetedSet:
    """One image pushed into every other class: pixels, targets, the budget each needed, success flags."""

    x_adv: torch.Tensor  # (K-1, C, H, W) pixels
    targets: torch.Tensor  # (K-1,)
    eps_used: torch.Tensor  # (K-1,) normalised budget of the first successful try (last tried if none)
    success: torch.Tensor  # (K-1,) bool: predicted class == target

    def success_rate(self) -> float:
        """Fraction of targets reached."""
        return float(self.success.float().mean())


def attack_every_class(
    model: PixelSpaceModel,
    x01: torch.Tensor,
    label: int,
    n_classes: int,
    eps_grid: tuple[float, ...],
    step: float = SOURCE_STEP,
    steps: int | None = None,
) -> TargetedSet:
    """Push one image (C, H, W) into each other class with targeted BIM, growing eps until it succeeds.

    steps=None runs kurakin_steps(eps, step) iterations for each budget.
    """
    if x01.dim() != 3:
        raise ValueError(f"x01 must be one image (C, H, W), got {tuple(x01.shape)}")
    targets = torch.tensor([c for c in range(n_classes) if c != label])
    x_adv = x01.expand(len(targets), *x01.shape).clone()
    eps_used = torch.full((len(targets),), float("nan"))
    success = torch.zeros(len(targets), dtype=torch.bool)
    for eps in sorted(eps_grid):
        todo = ~success
        if not todo.any():
            break
        n_it = kurakin_steps(eps, step) if steps is None else steps
        adv = bim_targeted(model, x01.expand(int(todo.sum()), *x01.shape).clone(), targets[todo], eps, step, n_it)
        x_adv[todo] = adv
        eps_used[todo] = eps
        success[todo] = predict(model, adv) == targets[todo]
    return TargetedSet(x_adv, targets, eps_used, success)


def scaled_adversarial(
    model: nn.Module, x0: torch.Tensor, label: int, noises: torch.Tensor, n: int, betas: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled-down perturbations beta * Advr (normalised units) that still fool `model` on x0; n of them.

    As in the source, beta loops upwards from the smallest value of the grid: every beta is tried on
    every noise and the first n fooling candidates (smallest betas first, then noise order) are kept;
    fewer when fewer fool (at least 2). Returns (patterns, their betas).
    """
    if noises.dim() != 4:
        raise ValueError(f"noises must be (m, C, H, W), got {tuple(noises.shape)}")
    cand = torch.cat([b * noises for b in betas])
    cand_beta = betas.repeat_interleave(len(noises))
    fools = predict(model, x0[None] + cand) != label
    if int(fools.sum()) < 2:
        raise RuntimeError(
            f"only {int(fools.sum())} scaled perturbations fool the model: "
            "use stronger attacks (larger budgets or more steps)"
        )
    keep = torch.nonzero(fools).flatten()
    pick = keep[:n]
    return cand[pick], cand_beta[pick]


def matched_gaussian(patterns: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One Gaussian pattern per given pattern, with that pattern's pixel mean and variance."""
    flat = patterns.flatten(1)
    mean, std = flat.mean(1), flat.std(1)
    z = torch.randn(patterns.shape, generator=gen, dtype=patterns.dtype)
    return mean.view(-1, 1, 1, 1) + std.view(-1, 1, 1, 1) * z


def matched_gaussian_not_fooling(
    model: nn.Module, x0: torch.Tensor, label: int, patterns: torch.Tensor, gen: torch.Generator, max_draws: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pattern, matched Gaussian draws repeated until x0 + draw keeps `label` (the source's S_g).

    Returns (patterns, number of draws each needed); a pattern that still fools after max_draws
    draws is kept as it is and shows up as max_draws (callers report the fooling rate).
    """
    out = matched_gaussian(patterns, gen)
    draws = torch.ones(len(patterns), dtype=torch.long)
    for _ in range(max_draws - 1):
        bad = predict(model, x0[None] + out) != label
        if not bad.any():
            break
        out[bad] = matched_gaussian(patterns[bad], gen)
        draws[bad] += 1
    return out, draws


def fooling_rate(model: nn.Module, x0: torch.Tensor, label: int, patterns: torch.Tensor) -> float:
    """Fraction of x0 + pattern (normalised units) not classified as `label`."""
    return float((predict(model, x0[None] + patterns) != label).float().mean())
