"""The GAN game on the real line: optimal discriminator, value function and Jensen-Shannon divergence.

For densities p_data and p_g, V(G, D) = E_{p_data} log D + E_{p_g} log(1 - D) is maximised pointwise by
D*(x) = p_data(x) / (p_data(x) + p_g(x)), and V(G, D*) = -log 4 + 2 JSD(p_data || p_g)
(Goodfellow et al. 2014, proposition 1 and theorem 1). Integrals are taken on a grid by the trapezoid rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate, stats
from torch import nn

from gancnn.train import run_loop


@dataclass(frozen=True)
class Mixture1D:
    """A 1-D Gaussian mixture: weights, means, standard deviations."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the density on an array."""
        return sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(self.weights, self.means, self.stds))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n samples."""
        comp = rng.choice(len(self.weights), size=n, p=np.asarray(self.weights) / sum(self.weights))
        return rng.normal(np.asarray(self.means)[comp], np.asarray(self.stds)[comp])

    def shifted(self, mu: float) -> Mixture1D:
        """The same mixture translated by mu."""
        return Mixture1D(self.weights, tuple(m + mu for m in self.means), self.stds)


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g), set to 1/2 where both densities vanish."""
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def _xlogy(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """p * log(y) with the convention 0 log 0 = 0."""
    return np.where(p > 0, p * np.log(np.where(p > 0, y, 1.0)), 0.0)


def value(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """V(G, D) = int p_data log D + p_g log(1 - D) dx on the grid x."""
    eps = 1e-300
    integrand = _xlogy(p_data, np.maximum(d, eps)) + _xlogy(p_g, np.maximum(1 - d, eps))
    return float(integrate.trapezoid(integrand, x))


def jensen_shannon(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2, in nats, on the grid x."""
    m = (p + q) / 2
    kl_pm = _xlogy(p, p) - _xlogy(p, m)
    kl_qm = _xlogy(q, q) - _xlogy(q, m)
    return float(integrate.trapezoid((kl_pm + kl_qm) / 2, x))


def game_value_curve(p_data: Mixture1D, generators: list[Mixture1D], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each generator density return C(G) = V(G, D*_G) and -log 4 + 2 JSD(p_data || p_g)."""
    pd_ = p_data.pdf(x)
    c_vals, jsd_vals = [], []
    for gen in generators:
        pg = gen.pdf(x)
        c_vals.append(value(optimal_discriminator(pd_, pg), pd_, pg, x))
        jsd_vals.append(-np.log(4) + 2 * jensen_shannon(pd_, pg, x))
    return np.asarray(c_vals), np.asarray(jsd_vals)


def small_discriminator(hidden: int = 32) -> nn.Module:
    """A 1 -> hidden -> hidden -> 1 MLP returning logits."""
    return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def fit_discriminator(
    real: Callable[[int], np.ndarray],
    fake: Callable[[int], np.ndarray],
    steps: int,
    batch: int = 256,
    lr: float = 3e-3,
    hidden: int = 32,
    progress: bool = True,
    checkpoint: str | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Maximise the empirical V(G, D) (minimise binary cross-entropy) over a small MLP with Adam."""
    disc = small_discriminator(hidden)
    opt = torch.optim.Adam(disc.parameters(), lr=lr)
    bce = nn.BCEWithLogitsLoss()

    def step(_: int) -> dict[str, float]:
        """One Adam step on a fresh batch of real and generated samples."""
        xr = torch.as_tensor(real(batch), dtype=torch.float32)[:, None]
        xf = torch.as_tensor(fake(batch), dtype=torch.float32)[:, None]
        loss = bce(disc(xr), torch.ones_like(xr)) + bce(disc(xf), torch.zeros_like(xf))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"V_estimate": -loss.item()}  # -BCE sum is the empirical V(G, D)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 1-D MLP gains nothing from intra-op threads and loses much on a busy CPU
    try:
        history = run_loop(
            step,
            steps,
            {"disc": disc, "opt": opt},
            checkpoint=checkpoint,
            every=max(steps // 4, 1),
            desc="discriminator",
            progress=progress,
        )
    finally:
        torch.set_num_threads(threads)
    return disc, history


def discriminator_on_grid(disc: nn.Module, x: np.ndarray) -> np.ndarray:
    """Evaluate sigmoid(disc(x)) on a grid."""
    with torch.no_grad():
        return torch.sigmoid(disc(torch.as_tensor(x, dtype=torch.float32)[:, None]))[:, 0].numpy()
