"""Helpers shared by the CIFAR-model tests (imported by test modules; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import torch
from torch import nn


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial weights (Fixup starts with zero branches), BN statistics and biases; float64, eval."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.eval().double()
