"""The normalization template of Wu & He (2018): one `select` rule per method, one implementation.

Every method in the template selects, for an element (k, c, i, j) of a batch X (N, C, H, W), a set of
elements whose mean and spread normalize it. For batch, layer, instance and group normalization the
sets partition the batch, so `select` is written as a *key*: two elements share a set exactly when
their keys are equal. The template then computes one mean and one variance per key.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

EPS = 1e-5
METHODS = ("batch", "layer", "instance", "group")
Key = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int, int], torch.Tensor]

# select(k, c, i, j) = {(k', c', i', j') : key(k', c', i', j') == key(k, c, i, j)}
SELECT_KEYS: dict[str, Key] = {
    "batch": lambda k, c, i, j, n_channels, groups: c,  # same channel c' = c
    "layer": lambda k, c, i, j, n_channels, groups: k,  # same example k' = k
    "instance": lambda k, c, i, j, n_channels, groups: k * n_channels + c,  # k' = k and c' = c
    "group": lambda k, c, i, j, n_channels, groups: k * groups + c // (n_channels // groups),  # k' = k, same group
}


def select_keys(shape: tuple[int, int, int, int], method: str, groups: int = 32) -> torch.Tensor:
    """Return the integer key of every element of an (N, C, H, W) batch under a method's select rule."""
    if method not in SELECT_KEYS:
        raise ValueError(f"unknown normalization {method!r}; choose one of {METHODS}")
    n, c, h, w = shape
    if method == "group" and (groups < 1 or c % groups):
        raise ValueError(f"group norm needs the {c} channels to split evenly into {groups} groups")
    k_idx, c_idx, i_idx, j_idx = torch.meshgrid(
        torch.arange(n), torch.arange(c), torch.arange(h), torch.arange(w), indexing="ij"
    )
    return SELECT_KEYS[method](k_idx, c_idx, i_idx, j_idx, c, groups).expand(n, c, h, w)


def select_set(
    shape: tuple[int, int, int, int], method: str, element: tuple[int, int, int, int], groups: int = 32
) -> set[tuple[int, int, int, int]]:
    """Spell out select(k, c, i, j) as a set of index quadruples (for small shapes and checks)."""
    keys = select_keys(shape, method, groups)
    return {tuple(int(v) for v in idx) for idx in torch.nonzero(keys == keys[element])}


def template_normalize(
    x: torch.Tensor,
    method: str,
    gamma: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    groups: int = 32,
    eps: float = EPS,
) -> torch.Tensor:
    """Y = gamma_c (X - mu) / sqrt(var + eps) + beta_c with mu, var over each element's selected set."""
    keys = select_keys(tuple(x.shape), method, groups).reshape(-1)
    values = x.reshape(-1)
    n_keys = int(keys.max()) + 1
    count = torch.zeros(n_keys, dtype=x.dtype).index_add_(0, keys, torch.ones_like(values))
    mean = torch.zeros(n_keys, dtype=x.dtype).index_add_(0, keys, values) / count
    centred = values - mean[keys]
    var = torch.zeros(n_keys, dtype=x.dtype).index_add_(0, keys, centred**2) / count  # biased, as the template
    y = (centred / torch.sqrt(var[keys] + eps)).reshape(x.shape)
    shape = (1, x.shape[1], 1, 1)
    if gamma is not None:
        y = y * gamma.view(shape)
    if beta is not None:
        y = y + beta.view(shape)
    return y


def layer_normalized_rows(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Normalize each row of an (N, d) matrix to zero mean and unit (biased) variance: layer norm without affine."""
    centred = x - x.mean(dim=1, keepdim=True)
    return centred / torch.sqrt(centred.pow(2).mean(dim=1, keepdim=True) + eps)


def gradient_step_invariants(x: torch.Tensor, w: torch.Tensor, u: torch.Tensor, eta: float) -> dict[str, float]:
    """Change of the sum and of the l1 norm of w under w' = w - eta X-bar^T u with layer-normalized rows X-bar."""
    w_new = w - eta * layer_normalized_rows(x).T @ u
    return {
        "sum_change": abs(float(w_new.sum() - w.sum())),
        "l1_change": abs(float(w_new.abs().sum() - w.abs().sum())),
    }
