"""Spectral normalisation by power iteration, written out to compare with torch's implementation."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.func import jvp, vjp


def _normalize(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Divide a vector by max(||x||, eps)."""
    return x / torch.clamp(x.norm(), min=eps)


def power_iteration(
    weight: torch.Tensor, u: torch.Tensor, n_steps: int = 1, eps: float = 1e-12
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run n power steps on W (rows = outputs, other dims flattened) from u; return (sigma, u, v)."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    w = weight.reshape(weight.shape[0], -1)
    if u.shape != (w.shape[0],):
        raise ValueError(f"u must have shape ({w.shape[0]},), got {tuple(u.shape)}")
    v = torch.zeros(w.shape[1], dtype=w.dtype, device=w.device)
    for _ in range(n_steps):
        v = _normalize(w.T @ u, eps)
        u = _normalize(w @ v, eps)
    sigma = u @ (w @ v)
    return sigma, u, v


def spectral_normalize(weight: torch.Tensor, u: torch.Tensor, n_steps: int = 1, eps: float = 1e-12) -> torch.Tensor:
    """Return W / sigma(W), sigma estimated by `power_iteration` (the SN-GAN rule)."""
    sigma, _, _ = power_iteration(weight, u, n_steps, eps)
    return weight / sigma


def exact_sigma(weight: torch.Tensor) -> torch.Tensor:
    """Return the largest singular value of W reshaped to (out, -1), from an SVD."""
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2)


def jacobian_spectral_norm(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    n_iter: int = 20,
    generator: torch.Generator | None = None,
) -> tuple[float, torch.Tensor]:
    """Largest singular value of the Jacobian of fn at x by power iteration on J^T J (jvp, then vjp), and its vector."""
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    v = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    v = v / v.norm()
    _, pullback = vjp(fn, x)
    sigma = 0.0
    for _ in range(n_iter):
        _, jv = jvp(fn, (x,), (v,))
        (jtjv,) = pullback(jv)
        sigma = math.sqrt(max(float((v * jtjv).sum().detach()), 0.0))
        v = (jtjv / jtjv.norm().clamp_min(1e-30)).detach()
    return sigma, v
