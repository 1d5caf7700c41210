"""The profile convention: validation fails fast; profile files only name known parameters."""

from __future__ import annotations

import pytest
import torch

from gancnn.params import ParameterError, RunConfig, load_profile, require_positive, resolve_device, validate


def test_validate_returns_attribute_dict() -> None:
    cfg = validate(profile="quick", device="cpu", seed=3, n_images=10, lr=0.1)
    assert isinstance(cfg, RunConfig)
    assert cfg.n_images == 10 and cfg.seed == 3 and cfg.device == torch.device("cpu")
    assert cfg.public()["device"] == "cpu"
    with pytest.raises(AttributeError, match="no parameter named"):
        _ = cfg.missing


@pytest.mark.parametrize("kwargs, message", [
    ({"profile": "medium"}, "unknown profile"),
    ({"seed": -1}, "seed must be"),
    ({"seed": 1.5}, "seed must be"),
    ({"epochs": -2}, "epochs must be non-negative"),
    ({"lr": float("nan")}, "NaN"),
    ({"device": "tpu"}, "device must be one of"),
])
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
