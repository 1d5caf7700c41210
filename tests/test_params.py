"""The profile convention: validation fails fast; profile files only name known parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gancnn.book.params import ParameterError, RunConfig, load_profile, require_positive, resolve_device, validate


def test_validate_returns_attribute_dict() -> None:
    cfg = validate(profile="quick", device="cpu", seed=3, n_images=10, lr=0.1)
    assert isinstance(cfg, RunConfig)
    assert cfg.n_images == 10 and cfg.seed == 3 and cfg.device == torch.device("cpu")
    assert cfg.public()["device"] == "cpu"
    with pytest.raises(AttributeError, match="no parameter named"):
        _ = cfg.missing


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"profile": "medium"}, "unknown profile"),
        ({"seed": -1}, "seed must be"),
        ({"seed": 1.5}, "seed must be"),
        ({"epochs": -2}, "epochs must be non-negative"),
        ({"lr": float("nan")}, "NaN"),
        ({"device": "tpu"}, "device must be one of"),
    ],
)
def test_validate_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        validate(**kwargs)


def test_cuda_requested_without_gpu_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParameterError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_require_positive() -> None:
    cfg = validate(n=0, m=2)
    require_positive(cfg, "m")
    with pytest.raises(ParameterError, match="n must be positive"):
        require_positive(cfg, "n")
    with pytest.raises(ParameterError, match="missing"):
        require_positive(cfg, "k")


def test_booleans_and_strings_are_not_counts() -> None:
    cfg = validate(flag=False, name="x")
    assert cfg.flag is False and cfg.name == "x"


def test_load_profile_missing_file_is_empty(repo_root) -> None:
    assert load_profile("full", "no-such-chapter") == {}
    with pytest.raises(ParameterError, match="unknown profile"):
        load_profile("huge", "pipeline")


# --- type-aware validation: the type of a knob is that of its default in the parameters cell ---------------

COUNT = {"n_stats": 2000}


@pytest.mark.parametrize(
    "value, message",
    [
        ("2000", r"n_stats = '2000': expected an integer"),
        (None, r"n_stats = None: expected an integer"),
        (2.5, r"n_stats = 2.5: expected an integer"),
        (True, r"n_stats = True: expected an integer"),
        (1e9, r"n_stats = 1000000000.0 is out of range: .*at most 10000000"),
        (10**9, r"n_stats = 1000000000 is out of range"),
        (float("inf"), r"n_stats = inf: expected an integer"),
    ],
)
def test_count_must_be_an_integer_in_range(value: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message) as err:
        validate(defaults=COUNT, n_stats=value)
    assert "\n" not in str(err.value)


def test_integral_float_is_accepted_as_a_count() -> None:
    cfg = validate(defaults=COUNT, n_stats=1e3)
    assert cfg.n_stats == 1000 and type(cfg.n_stats) is int


def test_count_bound_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCNN_MAX_COUNT", "100")
    with pytest.raises(ParameterError, match="at most 100"):
        validate(defaults=COUNT, n_stats=101)
    monkeypatch.setenv("GANCNN_MAX_COUNT", str(10**9))
    assert validate(defaults=COUNT, n_stats=10**9).n_stats == 10**9


@pytest.mark.parametrize(
    "defaults, value, message",
    [
        ({"lr": 0.1}, "0.1", r"lr = '0.1': expected a number"),
        ({"lr": 0.1}, None, r"lr = None: expected a number"),
        ({"lr": 0.1}, True, r"lr = True: expected a number"),
        ({"lr": 0.1}, float("inf"), r"lr = inf: expected a finite number"),
        ({"flag": True}, 1, r"flag = 1: expected true or false"),
        ({"flag": True}, "yes", r"flag = 'yes': expected true or false"),
        ({"name": "x"}, 3, r"name = 3: expected a string"),
        ({"name": "x"}, None, r"name = None: expected a string"),
        ({"sizes": [1, 5]}, "1, 5", r"sizes = '1, 5': expected a list"),
        ({"sizes": [1, 5]}, [1, "5"], r"sizes\[1\] = '5': expected an integer"),
        ({"eps": [0.1, 0.2]}, [0.1, float("nan")], r"eps\[1\] = nan: expected a finite number"),
    ],
)
def test_knob_types_follow_their_defaults(defaults: dict, value: object, message: str) -> None:
    name = next(iter(defaults))
    with pytest.raises(ParameterError, match=message) as err:
        validate(defaults=defaults, **{name: value})
    assert "\n" not in str(err.value)


def test_typed_values_that_fit_pass() -> None:
    defaults = {"lr": 0.1, "flag": False, "name": "x", "sizes": [1, 5], "eps": [0.5], "opt": None, "cap": 10}
    cfg = validate(
        defaults=defaults,
        nullable={"cap"},
        lr=1,
        flag=True,
        name="y",
        sizes=(2, 3.0),
        eps=[1, 0.25],
        opt="anything",
        cap=None,
    )
    assert cfg.lr == 1 and cfg.sizes == [2, 3] and cfg.opt == "anything" and cfg.cap is None
    assert validate(defaults=defaults, opt=None).opt is None  # None is accepted where the default is None


def test_values_without_defaults_are_still_checked() -> None:
    with pytest.raises(ParameterError, match="out of range"):
        validate(n_images=10**9)
    with pytest.raises(ParameterError, match="finite"):
        validate(lr=float("inf"))
    with pytest.raises(ParameterError, match=r"eps\[0\] must be non-negative"):
        validate(eps=[-0.1])
    assert validate(n_train=None, name="x", flag=True).n_train is None


# --- every chapter's parameters cell validates with its own defaults, and the full profiles fit their types --


def _json(values: dict) -> str:
    """Canonical JSON text, as cache keys see a configuration (1 and 1.0 differ)."""
    return json.dumps(values, sort_keys=True)


def _chapter_cells(repo_root) -> dict[str, dict]:
    """Each chapter's parameters cell, executed into a namespace of its defaults."""
    import jupytext

    cells = {}
    for path in sorted((repo_root / "book").glob("*.md")):
        nb = jupytext.read(path)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        if tagged:
            namespace: dict = {}
            exec(tagged[0].source, {}, namespace)  # plain assignments of literals
            cells[path.stem] = namespace
    return cells


def test_every_chapter_validates_with_its_defaults(repo_root) -> None:
    from gancnn.book.params import RESERVED

    cells = _chapter_cells(repo_root)
    assert len(cells) >= 9
    for chapter, values in cells.items():
        assert not set(values) & set(RESERVED), f"{chapter}: knob names {RESERVED} are reserved by validate"
        plain = validate(**values)  # as the chapter's validation cell calls it
        typed = validate(defaults=values, **values)
        assert _json(typed.public()) == _json(plain.public()) == _json({**values, "device": "cpu"}), chapter


def test_full_profiles_fit_the_types_of_the_defaults(repo_root) -> None:
    from gancnn.book.params import RUNNER_KEYS, check_types, load_profile
    from gancnn.book.runner import notebook_parameters, parameter_spec

    for path in sorted((repo_root / "params").glob("*/*.yaml")):
        values = {k: v for k, v in load_profile(path.parent.name, path.stem).items() if k not in RUNNER_KEYS}
        defaults, nullable = parameter_spec(notebook_parameters(repo_root / "book" / f"{path.stem}.md"))
        assert _json(check_types(values, defaults, nullable)) == _json(values), path  # same cache keys
        validate(defaults=defaults, nullable=nullable, **{**defaults, **values, "profile": "full"})


FULL_PROFILES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "params" / "full").glob("*.yaml"))


@pytest.mark.parametrize("chapter", FULL_PROFILES)
def test_full_profiles_leave_profile_and_device_to_the_runner(repo_root, chapter: str) -> None:
    from gancnn.book.params import run_profile

    run_profile("full", chapter)
