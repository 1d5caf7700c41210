"""Closed forms of the optimization exercises against torch.optim, autograd, torch.func and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gancnn.coursework import optimization as oe


@pytest.fixture
def problem() -> tuple[torch.Tensor, torch.Tensor]:
    """A small under-determined least-squares problem."""
    return oe.make_problem(8, 24, seed=3)


def test_min_norm_solution_matches_pseudo_inverse(problem):
    X, t = problem
    w = oe.min_norm_solution(X, t)
    assert torch.allclose(w, torch.linalg.pinv(X) @ t, atol=1e-12)
    assert torch.allclose(X @ w, t, atol=1e-12)
    assert oe.off_row_space_norm(X, w) < 1e-12


def test_make_problem_rejects_over_determined():
    with pytest.raises(ValueError):
        oe.make_problem(10, 5)


def test_gradient_matches_autograd(problem):
    X, t = problem
    w = torch.randn(X.shape[1], dtype=X.dtype, requires_grad=True)
    (g,) = torch.autograd.grad(oe.loss(X, t, w), w)
    assert torch.allclose(g, oe.gradient(X, t, w.detach()), atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 4, None])
def test_gd_and_sgd_from_zero_reach_min_norm(problem, batch_size):
    X, t = problem
    traj = oe.run_optimizer(X, t, oe.sgd(0.5), steps=2500, batch_size=batch_size, record_every=500)
    assert traj.distance[-1] < 1e-6
    assert max(traj.off_row_space) < 1e-10


def test_gd_from_nonzero_keeps_the_off_row_space_part(problem):
    X, t = problem
    w0 = torch.randn(X.shape[1], dtype=X.dtype, generator=torch.Generator().manual_seed(0))
    traj = oe.run_optimizer(X, t, oe.sgd(0.5), steps=2500, w0=w0, record_every=2500)
    expected = oe.min_norm_solution(X, t) + w0 - oe.row_space_projection(X, w0)
    assert torch.allclose(traj.w, expected, atol=1e-6)


def test_rmsprop_first_step_closed_form_matches_torch(problem):
    X, t = problem
    traj = oe.run_optimizer(X, t, oe.rmsprop(0.05, 0.9, 0.1), steps=1)
    assert torch.allclose(traj.w, oe.rmsprop_first_step(X, t, 0.05, 0.9, 0.1), atol=1e-14)


def test_rmsprop_counterexample_of_the_source():
    X = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    t = torch.tensor([2.0], dtype=torch.float64)
    expected = torch.tensor([5 / 7, 4 / 7], dtype=torch.float64)
    # the source's gradient (-2, -1) is that of L/4; with L itself the same point needs eps 4x larger
    for scale, eps in [(0.25, 0.2), (1.0, 0.8)]:
        w1 = oe.rmsprop_first_step(X, t, 2 / 7, 0.91, eps, loss_scale=scale)
        assert torch.allclose(w1, expected, atol=1e-12)
        traj = oe.run_optimizer(X, t, oe.rmsprop(2 / 7, 0.91, eps), steps=20, loss_scale=scale)
        assert torch.allclose(traj.w, expected, atol=1e-12) and traj.loss[1] < 1e-28
    assert torch.allclose(oe.min_norm_solution(X, t), torch.tensor([0.8, 0.4], dtype=torch.float64))
    # with the source's numbers taken literally on L, the first step is not a zero-loss point
    assert oe.loss(X, t, oe.rmsprop_first_step(X, t, 2 / 7, 0.91, 0.2)) > 0.1


def test_rmsprop_runs_follow_the_recursion_of_the_chapter(problem):
    """Every step of oe.rmsprop is v = beta v + (1 - beta) g^2, w -= lr g / (sqrt(v) + eps) (eq-opt-rmsprop)."""
    X, t = problem
    lr, beta, eps, steps = 0.05, 0.9, 0.1, 25
    Xn, tn = X.numpy(), t.numpy()
    w, v = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for _ in range(steps):
        g = 2.0 / len(tn) * Xn.T @ (Xn @ w - tn)
        v = beta * v + (1 - beta) * g**2
        w = w - lr * g / (np.sqrt(v) + eps)
    traj = oe.run_optimizer(X, t, oe.rmsprop(lr, beta, eps), steps=steps)
    assert np.abs(traj.w.numpy() - w).max() < 1e-12
    assert traj.loss[-1] == pytest.approx(float(np.mean((Xn @ w - tn) ** 2)), rel=1e-10)


def test_adam_does_not_reach_min_norm(problem):
    X, t = problem
    traj = oe.run_optimizer(X, t, oe.adam(0.01), steps=1500, record_every=1500)
    assert traj.loss[-1] < 1e-8
    assert traj.distance[-1] > 1e-2


def test_optimal_step_size_matches_line_search(problem):
    X, t = problem
    w0 = torch.randn(X.shape[1], dtype=X.dtype, generator=torch.Generator().manual_seed(1))
    eta = oe.optimal_step_size(X, t, w0)
    assert eta == pytest.approx(oe.line_search_step_size(X, t, w0, 4 * eta), rel=1e-6)
    best = oe.loss_after_step(X, t, w0, eta)
    assert best < oe.loss_after_step(X, t, w0, 0.99 * eta)
    assert best < oe.loss_after_step(X, t, w0, 1.01 * eta)


def test_equivalent_l2():
    assert oe.equivalent_l2(0.01, 0.2) == pytest.approx(0.025)  # lambda / (2 eta)
    assert oe.equivalent_l2(0.03, 0.5) == pytest.approx(0.03)  # eta = 1/2: the coefficients coincide
    with pytest.raises(ValueError):
        oe.equivalent_l2(0.1, 0.0)


def test_weight_decay_equals_l2_for_gd(problem):
    X, t = problem
    lr, decay = 0.2, 0.01
    decoupled = oe.run_optimizer(X, t, oe.sgd(lr), steps=300, decoupled_decay=decay)
    coupled = oe.run_optimizer(X, t, oe.sgd(lr), steps=300, l2=oe.equivalent_l2(decay, lr))
    library = oe.run_optimizer(X, t, oe.sgd(lr, weight_decay=decay / lr), steps=300)
    assert torch.allclose(decoupled.w, coupled.w, atol=1e-12)
    assert torch.allclose(decoupled.w, library.w, atol=1e-12)
    wrong = oe.run_optimizer(X, t, oe.sgd(lr), steps=300, l2=decay)
    assert (wrong.w - decoupled.w).abs().max() > 1e-3


def test_adamw_differs_from_adam_with_l2(problem):
    X, t = problem
    lr, decay = 0.01, 0.01
    adamw = oe.run_optimizer(X, t, oe.adam(lr, decoupled=True, weight_decay=decay / lr), steps=500)
    adam_l2 = oe.run_optimizer(X, t, oe.adam(lr), steps=500, l2=oe.equivalent_l2(decay, lr))
    assert (adamw.w - adam_l2.w).abs().max() > 1e-2


def test_hypergradients_agree(problem):
    X, t = problem
    lr, steps = 0.5, 30
    rev = oe.hypergradient_reverse(X, t, lr, steps)
    fwd = oe.hypergradient_forward(X, t, lr, steps)
    value, deriv = oe.hypergradient_closed_form(X, t, lr, steps)
    h = 1e-6
    fd = (
        oe.unrolled_loss(X, t, torch.tensor(lr + h, dtype=X.dtype), steps)
        - oe.unrolled_loss(X, t, torch.tensor(lr - h, dtype=X.dtype), steps)
    ) / (2 * h)
    for r in (rev, fwd):
        assert r.value == pytest.approx(value, rel=1e-10)
        assert r.grad == pytest.approx(deriv, rel=1e-8)
    assert deriv == pytest.approx(float(fd), rel=1e-5)


def test_reverse_memory_grows_linearly_forward_does_not():
    X, t = oe.make_problem(4, 2000, seed=0)
    steps = [10, 20, 40]
    rev = [oe.hypergradient_reverse(X, t, 0.5, s) for s in steps]
    fwd = [oe.hypergradient_forward(X, t, 0.5, s) for s in steps]
    slope, _ = oe.fit_linear_growth(steps, [r.saved_bytes for r in rev])
    assert slope >= 2000 * 8  # at least one float64 weight vector kept per unrolled step
    assert rev[2].peak_bytes - rev[0].peak_bytes >= 30 * 2000 * 8
    assert all(f.saved_bytes == 0 for f in fwd)
    assert len({f.peak_bytes for f in fwd}) == 1


def test_peak_tensor_memory_counts_and_releases():
    with oe.PeakTensorMemory() as mem:
        a = torch.ones(1000, dtype=torch.float64)
        b = a * 2
        del a, b
        c = torch.zeros(10, dtype=torch.float32)
    assert mem.peak == 2 * 8000
    assert mem.current == 40
    del c
    assert math.isfinite(mem.peak)


def test_any_solution_is_min_norm_plus_null_space_part(problem):
    X, t = problem
    u = torch.randn(X.shape[1], dtype=X.dtype, generator=torch.Generator().manual_seed(2))
    w = oe.min_norm_solution(X, t) + u - oe.row_space_projection(X, u)  # another exact solution
    assert torch.allclose(X @ w, t, atol=1e-10)
    lhs = float(w.norm() ** 2)
    rhs = float(oe.min_norm_solution(X, t).norm() ** 2) + oe.off_row_space_norm(X, w) ** 2
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_optimal_step_solves_in_one_step_along_an_eigenvector(problem):
    X, t = problem
    s, U = torch.linalg.eigh(X @ X.T)
    t_eig = U[:, 0].clone()  # residual a = -t_eig at w0 = 0 is an eigenvector of X X^T
    w0 = torch.zeros(X.shape[1], dtype=X.dtype)
    eta = oe.optimal_step_size(X, t_eig, w0)
    assert eta == pytest.approx(X.shape[0] / (2 * float(s[0])), rel=1e-10)
    assert oe.loss_after_step(X, t_eig, w0, eta) < 1e-20
