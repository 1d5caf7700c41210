"""Closed forms and small experiments for the optimization coursework: least squares with d > n.

The loss throughout is L(w) = (1/n) ||X w - t||^2 with X of shape (n, d), d > n, full row rank.
Every closed form here has a numerical counterpart (torch.optim, autograd, torch.func.jvp,
scipy's line search) so that the chapter and the tests can compare the two.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from gancnn.train import StepSampler

OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


# ---------------------------------------------------------------- the problem and its minimum-norm solution


def make_problem(
    n: int, d: int, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw an under-determined problem: X (n, d) with N(0, 1/d) entries (rows of norm about 1), t ~ N(0, 1)."""
    if not 0 < n < d:
        raise ValueError(f"need 0 < n < d for an under-determined problem, got n={n}, d={d}")
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype) / math.sqrt(d)
    t = torch.randn(n, generator=g, dtype=dtype)
    return X, t


def loss(X: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Mean squared error (1/n) ||X w - t||^2."""
    return ((X @ w - t) ** 2).mean()


def gradient(X: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Closed-form gradient (2/n) X^T (X w - t) of `loss`."""
    return (2.0 / X.shape[0]) * (X @ w - t) @ X


def min_norm_solution(X: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The minimum-norm interpolating solution X^T (X X^T)^{-1} t."""
    return X.T @ torch.linalg.solve(X @ X.T, t)


def row_space_projection(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Orthogonal projection of w onto the row space of X: X^T (X X^T)^{-1} X w."""
    return X.T @ torch.linalg.solve(X @ X.T, X @ w)


def off_row_space_norm(X: torch.Tensor, w: torch.Tensor) -> float:
    """Norm of the part of w orthogonal to the row space of X (zero when w = X^T a)."""
    return float(torch.linalg.vector_norm(w - row_space_projection(X, w)))


# ---------------------------------------------------------------- running torch optimizers on the problem


@dataclass
class Trajectory:
    """What one optimizer run recorded: steps, loss, distance to w*, off-row-space norm, final weights."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)
    off_row_space: list[float] = field(default_factory=list)
    w: torch.Tensor | None = None


def run_optimizer(
    X: torch.Tensor,
    t: torch.Tensor,
    make_optimizer: OptimizerFactory,
    steps: int,
    batch_size: int | None = None,
    seed: int = 0,
    record_every: int = 1,
    w0: torch.Tensor | None = None,
    decoupled_decay: float = 0.0,
    l2: float = 0.0,
    loss_scale: float = 1.0,
) -> Trajectory:
    """Minimise loss_scale (1/b)||B w - t_B||^2 (+ l2 ||w||^2) from w0 (default 0) with a torch optimizer.

    `batch_size=None` is full batch; mini-batches come from `StepSampler` (a fresh permutation each
    epoch). `decoupled_decay` multiplies w by (1 - decay) before each optimizer step.
    """
    n = X.shape[0]
    b = n if batch_size is None else batch_size
    sampler = StepSampler(n, b, seed=seed)
    w = (torch.zeros(X.shape[1], dtype=X.dtype) if w0 is None else w0.clone()).requires_grad_(True)
    opt = make_optimizer([w])
    w_star = min_norm_solution(X, t)
    out = Trajectory()

    def record(step: int) -> None:
        """Append the current state to the trajectory."""
        with torch.no_grad():
            out.steps.append(step)
            out.loss.append(float(loss(X, t, w)))
            out.distance.append(float(torch.linalg.vector_norm(w - w_star)))
            out.off_row_space.append(off_row_space_norm(X, w.detach()))

    record(0)
    for i in range(steps):
        idx = torch.as_tensor(sampler.indices(i))
        opt.zero_grad()
        objective = loss_scale * loss(X[idx], t[idx], w) + (l2 * (w * w).sum() if l2 else 0.0)
        objective.backward()
        if decoupled_decay:
            with torch.no_grad():
                w.mul_(1.0 - decoupled_decay)
        opt.step()
        if (i + 1) % record_every == 0 or i + 1 == steps:
            record(i + 1)
    out.w = w.detach().clone()
    return out


def sgd(lr: float, **kwargs: Any) -> OptimizerFactory:
    """Factory for torch.optim.SGD with a fixed learning rate."""
    return lambda params: torch.optim.SGD(params, lr=lr, **kwargs)


def rmsprop(lr: float, beta: float, eps: float, **kwargs: Any) -> OptimizerFactory:
    """Factory for torch.optim.RMSprop (v = beta v + (1 - beta) g^2, step lr g / (sqrt(v) + eps))."""
    return lambda params: torch.optim.RMSprop(params, lr=lr, alpha=beta, eps=eps, **kwargs)


def adam(lr: float, decoupled: bool = False, **kwargs: Any) -> OptimizerFactory:
    """Factory for torch.optim.Adam, or torch.optim.AdamW when `decoupled`."""
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return lambda params: cls(params, lr=lr, **kwargs)


# ---------------------------------------------------------------- RMSProp's first step from zero


def rmsprop_first_step(
    X: torch.Tensor, t: torch.Tensor, lr: float, beta: float, eps: float, loss_scale: float = 1.0
) -> torch.Tensor:
    """Closed-form RMSProp iterate after one full-batch step from w0 = 0 (v_{-1} = 0) on loss_scale * L."""
    g = loss_scale * gradient(X, t, torch.zeros(X.shape[1], dtype=X.dtype))
    v = (1.0 - beta) * g * g
    return -lr * g / (v.sqrt() + eps)


# ---------------------------------------------------------------- the optimal step size of one GD step


def loss_after_step(X: torch.Tensor, t: torch.Tensor, w0: torch.Tensor, lr: float) -> float:
    """Loss after one full-batch gradient step of size lr from w0."""
    return float(loss(X, t, w0 - lr * gradient(X, t, w0)))


def optimal_step_size(X: torch.Tensor, t: torch.Tensor, w0: torch.Tensor) -> float:
    """eta* = (n/2) ||X^T a||^2 / ||X X^T a||^2 with a = X w0 - t, the exact line-search step."""
    n = X.shape[0]
    a = X @ w0 - t
    return float(n / 2 * (X.T @ a).square().sum() / (X @ (X.T @ a)).square().sum())


def line_search_step_size(X: torch.Tensor, t: torch.Tensor, w0: torch.Tensor, upper: float) -> float:
    """Numerical line search (scipy's bounded Brent) for the step minimising `loss_after_step` on [0, upper]."""
    res = minimize_scalar(
        lambda lr: loss_after_step(X, t, w0, lr), bounds=(0.0, upper), method="bounded", options={"xatol": 1e-12}
    )
    return float(res.x)


# ---------------------------------------------------------------- weight decay and L2 regularisation


def equivalent_l2(decay: float, lr: float) -> float:
    """The L2 coefficient lambda~ = lambda / (2 eta) whose GD steps equal decoupled decay lambda."""
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    return decay / (2.0 * lr)


# ---------------------------------------------------------------- hyper-gradients through unrolled GD


def unrolled_loss(X: torch.Tensor, t: torch.Tensor, lr: torch.Tensor, steps: int) -> torch.Tensor:
    """Loss after `steps` full-batch GD steps from w0 = 0 with learning rate lr (a 0-d tensor)."""
    n = X.shape[0]
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    for _ in range(steps):
        w = w - lr * ((2.0 / n) * ((X @ w - t) @ X))
    return loss(X, t, w)


def hypergradient_closed_form(X: torch.Tensor, t: torch.Tensor, lr: float, steps: int) -> tuple[float, float]:
    """(L_T, dL_T/d eta) from the eigen-decomposition X X^T = U diag(s) U^T: r_T = (I - 2 eta/n X X^T)^T (-t)."""
    n = X.shape[0]
    s, U = torch.linalg.eigh(X @ X.T)
    c2 = (U.T @ t) ** 2
    f = 1.0 - 2.0 * lr * s / n
    value = (f ** (2 * steps) * c2).sum() / n
    deriv = (2 * steps * f ** (2 * steps - 1) * (-2.0 * s / n) * c2).sum() / n
    return float(value), float(deriv)


class PeakTensorMemory(TorchDispatchMode):
    """Track the bytes of live tensors created inside the context (not views); report the peak.

    Each tensor an operator returns is counted until it is garbage collected (weakref.finalize).
    Works on any device, CPU included; tensors that existed before entering are not counted.
    """

    def __init__(self) -> None:
        """Start with nothing live."""
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0

    def _release(self, key: int, nbytes: int) -> None:
        """Forget a tensor that was freed."""
        if self.live.pop(key, None) is not None:
            self.current -= nbytes

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        """Run the operator and count its non-view outputs."""
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor) or tensor._is_view():
                continue
            key, nbytes = id(tensor), tensor.nelement() * tensor.element_size()
            if nbytes and key not in self.live:
                self.live[key] = nbytes
                self.current += nbytes
                self.peak = max(self.peak, self.current)
                weakref.finalize(tensor, self._release, key, nbytes)
        return out


@contextmanager
def saved_tensor_bytes() -> Iterator[dict[str, int]]:
    """Count the bytes autograd saves for backward inside the context (distinct storages)."""
    seen: set[int] = set()
    stats = {"bytes": 0, "tensors": 0}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        """Add a saved tensor's storage to the count once."""
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            stats["bytes"] += storage.nbytes()
            stats["tensors"] += 1
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield stats


@dataclass
class HypergradientResult:
    """A hyper-gradient dL_T/d eta and what computing it cost in memory."""

    value: float
    grad: float
    peak_bytes: int
    saved_bytes: int


def hypergradient_reverse(X: torch.Tensor, t: torch.Tensor, lr: float, steps: int) -> HypergradientResult:
    """dL_T/d eta by reverse mode: build the unrolled graph, then autograd.grad (memory grows with steps)."""
    eta = torch.tensor(lr, dtype=X.dtype, requires_grad=True)
    with PeakTensorMemory() as mem, saved_tensor_bytes() as saved:
        value = unrolled_loss(X, t, eta, steps)
        (grad,) = torch.autograd.grad(value, eta)
    return HypergradientResult(float(value.detach()), float(grad.detach()), mem.peak, saved["bytes"])


def hypergradient_forward(X: torch.Tensor, t: torch.Tensor, lr: float, steps: int) -> HypergradientResult:
    """dL_T/d eta by forward mode (torch.func.jvp with tangent 1): no graph is kept."""
    eta = torch.tensor(lr, dtype=X.dtype)
    with PeakTensorMemory() as mem, saved_tensor_bytes() as saved:
        value, grad = torch.func.jvp(lambda e: unrolled_loss(X, t, e, steps), (eta,), (torch.ones_like(eta),))
    return HypergradientResult(float(value.detach()), float(grad.detach()), mem.peak, saved["bytes"])


def fit_linear_growth(steps: list[int], nbytes: list[int]) -> tuple[float, float]:
    """Least-squares line nbytes = slope * steps + intercept; returns (slope, intercept)."""
    slope, intercept = np.polyfit(np.asarray(steps, float), np.asarray(nbytes, float), 1)
    return float(slope), float(intercept)
