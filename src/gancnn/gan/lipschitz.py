"""Lipschitz constant of a BigGAN-deep generator: a layer-wise upper bound versus empirical estimates.

The bound composes per-operator constants: ||f o g|| <= ||f|| ||g|| and, for a residual block,
Lip(main + skip) <= Lip(main) + Lip(skip).  ReLU, tanh, slicing and channel drop have constant 1,
nearest 2x up-sampling has operator norm exactly 2 (every value is copied to four pixels), batch
norm with frozen statistics and gains is the diagonal map x -> w (x - mu)/sqrt(var + eps) + b with
constant max_c |w_c| / sqrt(var_c + eps), and a convolution's constant is either bounded by
sqrt(kH kW) * sigma(kernel reshaped to C_out x C_in kH kW) or computed exactly by power iteration on
the convolution operator.  The conditioning vector c feeding the batch norms is frozen, so the map
studied is z -> G(z; c_0): with c varying the gains w(c) multiply the features and no global
constant exists.  Self-attention is not globally Lipschitz either (Kim et al. 2021) unless gamma = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gancnn.gan.spectral import exact_sigma, jacobian_spectral_norm
from gancnn.models.biggan_deep import BigGANDeepGenerator, ConditionalBatchNorm2d, GeneratorBlock
from gancnn.models.selfattention import SelfAttention2d


def conv_operator_norm(conv: nn.Conv2d, height: int, width: int, n_iter: int = 30) -> float:
    """Exact operator norm (largest singular value) of a conv layer's linear part on H x W inputs."""
    weight = conv.weight.detach()
    x0 = torch.zeros(1, conv.in_channels, height, width, dtype=weight.dtype, device=weight.device)
    gen = torch.Generator().manual_seed(0)
    sigma, _ = jacobian_spectral_norm(
        lambda x: F.conv2d(x, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups), x0, n_iter, gen
    )
    return sigma


def batchnorm_constant(bn: ConditionalBatchNorm2d, cond: torch.Tensor | None, truncation: float) -> float:
    """max_c |w_c| / sqrt(var_c + eps) for frozen statistics and (conditional) gains at c."""
    with torch.no_grad():
        _, var = bn.statistics(truncation)
        w, _ = bn.gain_and_shift(cond)
        return float((w.abs() / torch.sqrt(var + bn.eps)).max())


@dataclass
class OperatorConstant:
    """One operator's Lipschitz constant: the matrix-sigma bound and the exact operator value."""

    name: str
    kind: str
    bound: float
    exact: float


def _conv_entry(name: str, conv: nn.Conv2d, hw: int) -> OperatorConstant:
    """sqrt(kH kW) * sigma(reshaped kernel) and the exact conv operator norm at hw x hw."""
    k = conv.kernel_size[0] * conv.kernel_size[1]
    sigma = float(exact_sigma(conv.weight.detach()))
    return OperatorConstant(
        name,
        f"conv {conv.kernel_size[0]}x{conv.kernel_size[1]}",
        math.sqrt(k) * sigma,
        conv_operator_norm(conv, hw, hw),
    )


def block_constants(
    block: GeneratorBlock, name: str, hw_in: int, cond: torch.Tensor, truncation: float
) -> tuple[list[OperatorConstant], tuple[float, float]]:
    """Per-operator constants of a residual block and its (bound, exact-operator) constants main + skip."""
    hw_out = 2 * hw_in if block.up else hw_in
    ops = [
        OperatorConstant(f"{name}.bn_0", "cond. BN", *(2 * [batchnorm_constant(block.bn_0, cond, truncation)])),
        _conv_entry(f"{name}.conv_0", block.conv_0, hw_in),
        OperatorConstant(f"{name}.bn_1", "cond. BN", *(2 * [batchnorm_constant(block.bn_1, cond, truncation)])),
    ]
    if block.up:
        ops.append(OperatorConstant(f"{name}.up_0", "nearest up x2", 2.0, 2.0))
    ops += [
        _conv_entry(f"{name}.conv_1", block.conv_1, hw_out),
        OperatorConstant(f"{name}.bn_2", "cond. BN", *(2 * [batchnorm_constant(block.bn_2, cond, truncation)])),
        _conv_entry(f"{name}.conv_2", block.conv_2, hw_out),
        OperatorConstant(f"{name}.bn_3", "cond. BN", *(2 * [batchnorm_constant(block.bn_3, cond, truncation)])),
        _conv_entry(f"{name}.conv_3", block.conv_3, hw_out),
    ]
    skip = 2.0 if block.up else 1.0
    main_bound = math.prod(o.bound for o in ops)
    main_exact = math.prod(o.exact for o in ops)
    return ops, (main_bound + skip, main_exact + skip)


def generator_bound(
    g: BigGANDeepGenerator, cond: torch.Tensor, truncation: float
) -> tuple[list[OperatorConstant], list[OperatorConstant]]:
    """Return per-operator constants and per-layer (stem, L_i, output) constants of z -> G(z; c_0)."""
    if cond.shape[0] != 1:
        raise ValueError("freeze a single conditional vector c_0 of shape (1, 2t)")
    operators: list[OperatorConstant] = []
    stem = float(torch.linalg.matrix_norm(g.linear.weight.detach()[:, : g.z_dim], ord=2))
    layers = [OperatorConstant("linear (z columns)", "SN linear", stem, stem)]
    operators.append(layers[0])
    hw = 4
    for i, layer in enumerate(g.layers):
        if isinstance(layer, SelfAttention2d):
            lip = 1.0 if layer.gamma.detach().item() == 0.0 else math.inf
            layers.append(OperatorConstant(f"layers.{i}", "self-attention", lip, lip))
            operators.append(layers[-1])
            continue
        ops, (bound, exact) = block_constants(layer, f"layers.{i}", hw, cond, truncation)
        operators += ops
        layers.append(OperatorConstant(f"layers.{i}", layer.kind, bound, exact))
        hw = 2 * hw if layer.up else hw
    tail = [
        OperatorConstant("bn", "BN", *(2 * [batchnorm_constant(g.bn, None, truncation)])),
        _conv_entry("conv_to_rgb", g.conv_to_rgb, hw),
    ]
    operators += tail
    layers.append(
        OperatorConstant(
            "output (BN, ReLU, conv, slice, tanh)",
            "output",
            math.prod(o.bound for o in tail),
            math.prod(o.exact for o in tail),
        )
    )
    return operators, layers


def frozen_generator(
    g: BigGANDeepGenerator, labels: torch.Tensor, cond: torch.Tensor, truncation: float
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return z (1, t) -> G(z; c_0): the noise enters the stem, the batch norms see the fixed c_0."""
    with torch.no_grad():
        e = g.embedding(labels)

    def fn(z: torch.Tensor) -> torch.Tensor:
        """Image for noise z with the conditioning frozen."""
        return g.synthesize(g.stem(torch.cat([z, e], dim=1)), cond, truncation)

    return fn


def empirical_lipschitz(
    fn: Callable[[torch.Tensor], torch.Tensor],
    points: torch.Tensor,
    n_iter: int = 10,
    delta: float = 1e-2,
    seed: int = 0,
) -> dict[str, float]:
    """Lower estimates of Lip(fn): max Jacobian norm, max ||fn(z+d)-fn(z)||/||d|| for random and top-singular d."""
    gen = torch.Generator().manual_seed(seed)
    jac, ratio_random, ratio_top = [], [], []
    for z in points:
        z = z[None]
        sigma, v = jacobian_spectral_norm(fn, z, n_iter, gen)
        jac.append(sigma)
        with torch.no_grad():
            base = fn(z)
            d = torch.randn(z.shape, generator=gen).to(z.device)
            d = delta * d / d.norm()
            ratio_random.append(float((fn(z + d) - base).norm() / d.norm()))
            d = delta * v / v.norm()
            ratio_top.append(float((fn(z + d) - base).norm() / d.norm()))
    return {
        "max_jacobian_norm": max(jac),
        "max_ratio_random_direction": max(ratio_random),
        "max_ratio_top_direction": max(ratio_top),
        "n_points": len(jac),
    }


def study(
    g: BigGANDeepGenerator,
    label: torch.Tensor,
    points: torch.Tensor,
    truncation: float,
    n_iter: int = 10,
    seed: int = 0,
) -> dict[str, object]:
    """Bound (frozen at c_0 = c(points[0], label)) and empirical estimates of z -> G(z; c_0), as a cacheable dict."""
    g.eval()
    cond = g.condition(points[:1], label).detach()
    ops, layers = generator_bound(g, cond, truncation)
    emp = empirical_lipschitz(frozen_generator(g, label, cond, truncation), points, n_iter=n_iter, seed=seed)
    return {
        "layer_names": [l.name for l in layers],
        "layer_kinds": [l.kind for l in layers],
        "layer_bound": np.array([l.bound for l in layers]),
        "layer_exact": np.array([l.exact for l in layers]),
        "op_names": [o.name for o in ops],
        "op_kinds": [o.kind for o in ops],
        "op_bound": np.array([o.bound for o in ops]),
        "op_exact": np.array([o.exact for o in ops]),
        "bound_sqrt_k_sigma": math.prod(l.bound for l in layers),
        "bound_exact_conv": math.prod(l.exact for l in layers),
        **emp,
    }
