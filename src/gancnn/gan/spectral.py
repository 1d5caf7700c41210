"""Spectral normalisation by power iteration, written out to compare with torch's implementation."""

from __future__ import annotations

import torch


def _normalize(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Divide a vector by max(||x||, eps)."""
    return x / torch.clamp(x.norm(), min=eps)


def power_iteration(weight: torch.Tensor, u: torch.Tensor, n_steps: int = 1,
                    eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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


def spectral_normalize(weight: torch.Tensor, u: torch.Tensor, n_steps: int = 1,
                       eps: float = 1e-12) -> torch.Tensor:
    """Return W / sigma(W), sigma estimated by `power_iteration` (the SN-GAN rule)."""
    sigma, _, _ = power_iteration(weight, u, n_steps, eps)
    return weight / sigma


def exact_sigma(weight: torch.Tensor) -> torch.Tensor:
    """Return the largest singular value of W reshaped to (out, -1), from an SVD."""
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2)
