"""The profile convention: validate a chapter's parameters cell before any work is spent.

Every chapter's papermill `parameters` cell holds all its knobs with quick defaults; the next
cell calls `validate(...)` with them. `params/<profile>/<chapter>.yaml` holds the other profile's
values, injected by `make run` (see `gancnn.runner`).
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import torch
import yaml

from .paths import project_root

PROFILES = ("quick", "full")
DEVICES = ("cpu", "cuda", "auto")


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot run with."""


class RunConfig(dict):
    """A validated parameter set: a dict whose keys are also attributes; `device` is a torch.device."""

    def __getattr__(self, name: str) -> Any:
        """Give attribute access to the keys."""
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(f"no parameter named {name!r}; known: {sorted(self)}") from exc

    def public(self) -> dict[str, Any]:
        """Return a JSON-friendly copy (device as a string) for cache keys and provenance."""
        return {k: (str(v) if isinstance(v, torch.device) else v) for k, v in self.items()}


def resolve_device(device: str) -> torch.device:
    """Map 'cpu' | 'cuda' | 'auto' to a torch.device, failing if CUDA is asked for but absent."""
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device='cuda' was asked for but torch sees no CUDA GPU; use device='cpu'")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def validate(profile: str = "quick", device: str = "cpu", seed: int = 0, **knobs: Any) -> RunConfig:
    """Check profile, device, seed and every numeric knob (no negative numbers, no NaN); return a RunConfig."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    for name, value in knobs.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            continue
        if value != value:  # NaN
            raise ParameterError(f"parameter {name} is NaN")
        if value < 0:
            raise ParameterError(f"parameter {name} must be non-negative, got {value!r}")
    return RunConfig(profile=profile, device=resolve_device(device), seed=int(seed), **knobs)


def require_positive(cfg: dict[str, Any], *names: str) -> None:
    """Fail if any of the named knobs is not strictly positive (counts that must not be zero)."""
    for name in names:
        if name not in cfg:
            raise ParameterError(f"parameter {name} is missing")
        if not cfg[name] > 0:
            raise ParameterError(f"parameter {name} must be positive, got {cfg[name]!r}")


def profile_file(profile: str, chapter: str) -> Path:
    """Return the YAML file that holds a chapter's values for a profile."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    return project_root() / "params" / profile / f"{chapter}.yaml"


def load_profile(profile: str, chapter: str) -> dict[str, Any]:
    """Read a chapter's parameter overrides for a profile (empty when the file does not exist)."""
    path = profile_file(profile, chapter)
    if not path.is_file():
        return {}
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ParameterError(f"{path} must hold a mapping of parameter names to values")
    return values
