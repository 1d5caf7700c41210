"""The noise distributions of the GMM experiments: generator inputs z and GMM noise t.

Each sampler has the signature `(n, d, generator) -> tensor (n, d)`. The equicorrelated Gaussian
with correlation rho is built as z = sqrt(1 - rho) e + sqrt(rho) g 1 (e ~ N(0, I_d), g ~ N(0, 1)),
whose covariance is (1 - rho) I + rho 1 1^T; this stays valid at rho = 1, where the covariance
has rank one and a Cholesky factor does not exist.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Sampler = Callable[[int, int, torch.Generator], torch.Tensor]


def normal(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    """N(0, I_d)."""
    return torch.randn(n, d, generator=gen)


def uniform(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    """U(-1, 1) per coordinate."""
    return 2 * torch.rand(n, d, generator=gen) - 1


def bernoulli(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    """Bernoulli(1/2) on {0, 1} per coordinate."""
    return (torch.rand(n, d, generator=gen) < 0.5).float()


def rademacher(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    """Uniform on {-1, +1} per coordinate (zero mean, unit variance)."""
    return 2 * bernoulli(n, d, gen) - 1


def cauchy(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    """Standard Cauchy per coordinate, tan(pi (U - 1/2)): heavy tails, no mean or variance."""
    return torch.tan(torch.pi * (torch.rand(n, d, generator=gen, dtype=torch.float64) - 0.5)).float()


def equicorrelated(rho: float) -> Sampler:
    """N(0, (1 - rho) I + rho 1 1^T): unit variances, every pair of coordinates correlated by rho."""
    if not 0 <= rho <= 1:
        raise ValueError(f"rho must be in [0, 1], got {rho}")

    def sample(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
        """Draw n equicorrelated Gaussian vectors."""
        e = torch.randn(n, d, generator=gen)
        g = torch.randn(n, 1, generator=gen)
        return (1 - rho) ** 0.5 * e + rho**0.5 * g

    return sample


def equicorrelated_cov(rho: float, d: int) -> torch.Tensor:
    """The covariance (1 - rho) I + rho 1 1^T of `equicorrelated(rho)`."""
    return (1 - rho) * torch.eye(d) + rho * torch.ones(d, d)


Z_NOISES: dict[str, Sampler] = {
    "U(-1,1)": uniform,
    "Bernoulli{0,1}": bernoulli,
    "N(0,I)": normal,
    "N(0,Σ) ρ=0.5": equicorrelated(0.5),
    "N(0,Σ) ρ=1.0": equicorrelated(1.0),
    "Cauchy": cauchy,  # the negative control: heavy tails, outside the concentration the theory assumes
}
T_NOISES: dict[str, Sampler] = {"N(0,1)": normal, "Rademacher": rademacher}


def get(name: str, table: dict[str, Sampler]) -> Sampler:
    """Look up a sampler by name, failing with the list of known names."""
    if name not in table:
        raise KeyError(f"unknown noise {name!r}; known: {sorted(table)}")
    return table[name]
