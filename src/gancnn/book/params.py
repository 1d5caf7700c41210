"""The profile convention: validate a chapter's parameters cell before any work is spent.

Every chapter's papermill `parameters` cell holds all its knobs with quick defaults; the next
cell calls `validate(...)` with them. `params/<profile>/<chapter>.yaml` holds the other profile's
values, injected by `make run` (see `gancnn.book.runner`).

Types: `validate(..., defaults=...)` gives every knob the type of its default in the parameters cell
(`gancnn-run` passes the defaults it reads from the chapter, so a mistyped `-p` or YAML value stops before a
kernel starts). A bool stays a bool; an integer knob takes an int, or an exactly integral float such as YAML's
`1e3`, of magnitude at most `max_count()` (10**7, env `GANCNN_MAX_COUNT`); a float knob takes a finite
number; a string knob a string; a list the element type of its default. None is refused unless the default
is None or the knob is nullable (its comment in the parameters cell says what None means, e.g.
`n_train = 1200  # (None: all 5,000)`). Without defaults (a chapter's own call) values are still checked:
no negative, NaN, infinite or out-of-range number, in lists too.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import reprlib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from gancnn.book.paths import project_root

PROFILES = ("quick", "full")
DEVICES = ("cpu", "cuda", "auto")
MAX_COUNT = 10**7  # the largest integer knob accepted (override with env GANCNN_MAX_COUNT)
RESERVED = ("defaults", "nullable")  # keyword arguments of validate itself, not usable as knob names
RUNNER_KEYS = ("profile", "device")  # chosen by gancnn-run's --profile/--device, never by -p or a params file
_KINDS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist = 60, 60, 8


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


def max_count() -> int:
    """Return the largest magnitude an integer knob may take (env GANCNN_MAX_COUNT, default MAX_COUNT)."""
    text = os.environ.get("GANCNN_MAX_COUNT", "").strip()
    if not text:
        return MAX_COUNT
    try:
        return int(text)
    except ValueError:
        raise ParameterError(f"GANCNN_MAX_COUNT must be an integer, got {text!r}") from None


def _kind(default: Any) -> type | None:
    """Return the knob type a default stands for (None: any value goes)."""
    for kind in (bool, int, float, str):
        if isinstance(default, kind):
            return kind
    if isinstance(default, (list, tuple)):
        return list
    if isinstance(default, dict):
        return dict
    return None


def _element_kind(default: Any) -> type | None:
    """Return the common element type of a list default (None when empty or mixed)."""
    kinds = {_kind(v) for v in default}
    if kinds == {int, float}:
        return float
    return kinds.pop() if len(kinds) == 1 else None


def _type_error(name: str, value: Any, expected: str, default: Any) -> ParameterError:
    """Build the one-line error for a value of the wrong type."""
    return ParameterError(
        f"parameter {name} = {_short.repr(value)}: expected {expected} "
        f"(the default is {_short.repr(default)}), got {type(value).__name__}"
    )


def _as_int(name: str, value: Any, default: Any) -> int:
    """Accept an int, or an exactly integral finite float, within max_count()."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _type_error(name, value, "an integer", default)
    if not isinstance(value, numbers.Integral) and (not math.isfinite(value) or value != int(value)):
        raise _type_error(name, value, "an integer", default)
    return _in_range(name, value, int(value))


def _in_range(name: str, shown: Any, number: int) -> int:
    """Refuse an integer beyond the count bound."""
    bound = max_count()
    if abs(number) > bound:
        raise ParameterError(
            f"parameter {name} = {shown!r} is out of range: integer knobs are at most {bound} "
            f"(set GANCNN_MAX_COUNT to allow more)"
        )
    return number


def _typed(name: str, value: Any, default: Any, nullable: bool) -> Any:
    """Check one value against the type of its default; return it (integral floats become ints)."""
    kind = _kind(default)
    if value is None:
        if kind is None or nullable:
            return None
        raise _type_error(name, value, _KINDS[kind], default)
    if kind is None:
        return value
    if kind is int:
        return _as_int(name, value, default)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _type_error(name, value, "a number", default)
        if not math.isfinite(value):
            raise _type_error(name, value, "a finite number", default)
        return value
    if kind is list:
        if not isinstance(value, (list, tuple)):
            raise _type_error(name, value, "a list", default)
        element = _element_kind(default)
        if element is None:
            return list(value)
        sample = next(d for d in default if _kind(d) is element)
        return [_typed(f"{name}[{i}]", v, sample, False) for i, v in enumerate(value)]
    if not isinstance(value, kind):  # bool, str, dict
        raise _type_error(name, value, _KINDS[kind], default)
    return value


def check_types(
    values: Mapping[str, Any], defaults: Mapping[str, Any], nullable: Collection[str] = ()
) -> dict[str, Any]:
    """Check each value against the type of its default (knobs without a default pass); return them coerced."""
    return {
        name: _typed(name, value, defaults[name], name in nullable) if name in defaults else value
        for name, value in values.items()
    }


def _check_value(name: str, value: Any) -> None:
    """Refuse negative, NaN, infinite and out-of-range numbers (in lists too); other values pass."""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(f"{name}[{i}]", item)
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return
    if value != value:  # NaN
        raise ParameterError(f"parameter {name} is NaN")
    if isinstance(value, numbers.Integral):
        _in_range(name, value, int(value))
    elif isinstance(value, numbers.Real) and not math.isfinite(value):
        raise ParameterError(f"parameter {name} = {value!r}: expected a finite number")
    if value < 0:
        raise ParameterError(f"parameter {name} must be non-negative, got {value!r}")


def validate(
    profile: str = "quick",
    device: str = "cpu",
    seed: int = 0,
    *,
    defaults: Mapping[str, Any] | None = None,
    nullable: Collection[str] = (),
    **knobs: Any,
) -> RunConfig:
    """Check profile, device, seed and all knobs (types from `defaults` if given; values always); return a RunConfig."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    if defaults is not None:
        knobs = check_types(knobs, defaults, nullable)
    for name, value in knobs.items():
        _check_value(name, value)
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


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading `1e3` as a number as YAML 1.2 does (YAML 1.1 wants `1.0e3`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text; a syntax error becomes a one-line ParameterError naming the source and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}: line {mark.line + 1}, column {mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParameterError(f"{where}: not valid YAML ({problem})") from None


def load_profile(profile: str, chapter: str) -> dict[str, Any]:
    """Read a chapter's parameter overrides for a profile (empty when the file does not exist)."""
    path = profile_file(profile, chapter)
    if not path.is_file():
        return {}
    values = parse_yaml(path.read_text(), str(path)) or {}
    if not isinstance(values, dict):
        raise ParameterError(f"{path} must hold a mapping of parameter names to values")
    return values


def refuse_runner_keys(values: Mapping[str, Any], source: str) -> None:
    """Fail when parameters try to set the profile or device, which only gancnn-run's options choose."""
    for name in RUNNER_KEYS:
        if name in values:
            raise ParameterError(
                f"{source} sets {name}={values[name]!r}: choose the {name} with gancnn-run "
                f"--{name} (make run {name.upper()}=...), not as a parameter"
            )


def run_profile(profile: str, chapter: str) -> dict[str, Any]:
    """Read a chapter's profile file for a run: as load_profile, but refusing `profile` and `device` keys."""
    values = load_profile(profile, chapter)
    refuse_runner_keys(values, str(profile_file(profile, chapter)))
    return values
