"""The networks of the book, as plain `nn.Module`s; `count_parameters` is the one parameter count they share."""

from __future__ import annotations

from torch import nn


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of a module (only those with requires_grad when trainable_only)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
