"""A result cache keyed by a hash of an experiment's configuration, with provenance.

Layout: `artifacts/<profile>/<experiment>/<key>/` holding `result.json` (scalars, lists,
strings), `arrays.npz` (NumPy arrays), `tensors.pt` (torch tensors and state dicts) and
`provenance.json` (date, device, git commit, data copy, wall time, config, file checksums).
joblib.Memory was considered: it keys on the function's code and pickles results into its own
layout, while the book needs readable, committed artifacts keyed on the configuration alone.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .paths import artifacts_dir, project_root

FILES = ("result.json", "arrays.npz", "tensors.pt")


class CacheCorruptedError(RuntimeError):
    """A stored result cannot be read back or fails its checksum."""


def _jsonable(obj: Any) -> Any:
    """Convert configs to JSON-friendly values (devices, paths, tuples, numpy scalars)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def config_key(config: dict[str, Any]) -> str:
    """Return a 16-hex-digit SHA-256 of the canonical JSON of a configuration."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_commit() -> str:
    """Return the current git commit (with '-dirty' when the tree has changes), or 'unknown'."""
    try:
        root = project_root()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device_description(device: str | torch.device = "cpu") -> str:
    """Describe the machine a result was computed on."""
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def entry_dir(profile: str, experiment: str, config: dict[str, Any]) -> Path:
    """Return the folder a configuration's result lives in."""
    return artifacts_dir() / profile / experiment / config_key(config)


def _sha256(path: Path) -> str:
    """Return the SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(folder: Path, result: dict[str, Any]) -> None:
    """Split a result dict by value type into the three files."""
    arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
    tensors = {k: v for k, v in result.items() if isinstance(v, (torch.Tensor, dict)) and _has_tensor(v)}
    plain = {k: v for k, v in result.items() if k not in arrays and k not in tensors}
    (folder / "result.json").write_text(json.dumps(_jsonable(plain), indent=1, sort_keys=True))
    if arrays:
        np.savez_compressed(folder / "arrays.npz", **arrays)
    if tensors:
        torch.save(tensors, folder / "tensors.pt")


def _has_tensor(value: Any) -> bool:
    """Return True when a value is or contains a torch tensor."""
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(_has_tensor(v) for v in value.values())
    return False


def save(profile: str, experiment: str, config: dict[str, Any], result: dict[str, Any], *,
         wall_time_s: float, device: str | torch.device = "cpu", data_copy: Any = None) -> Path:
    """Store a result atomically (write to a temporary folder, then rename) with its provenance."""
    final = entry_dir(profile, experiment, config)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _write(tmp, result)
        files = {f: _sha256(tmp / f) for f in FILES if (tmp / f).exists()}
        provenance = {
            "experiment": experiment, "profile": profile, "key": final.name, "config": _jsonable(config),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "device": device_description(device), "git_commit": git_commit(),
            "data_copy": _jsonable(data_copy.as_dict() if hasattr(data_copy, "as_dict") else data_copy),
            "wall_time_s": round(float(wall_time_s), 3), "torch": torch.__version__, "files": files,
        }
        (tmp / "provenance.json").write_text(json.dumps(provenance, indent=1, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def load(profile: str, experiment: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """Return a stored result (with its provenance under '_provenance') or None when absent."""
    folder = entry_dir(profile, experiment, config)
    if not folder.is_dir():
        return None
    try:
        provenance = json.loads((folder / "provenance.json").read_text())
        for name, digest in provenance["files"].items():
            if _sha256(folder / name) != digest:
                raise CacheCorruptedError(f"{folder / name} does not match its checksum")
        result = json.loads((folder / "result.json").read_text())
        if (folder / "arrays.npz").exists():
            with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
                result.update({k: npz[k] for k in npz.files})
        if (folder / "tensors.pt").exists():
            result.update(torch.load(folder / "tensors.pt", map_location="cpu", weights_only=True))
    except CacheCorruptedError as exc:
        raise CacheCorruptedError(f"{exc}; delete {folder} to recompute it") from exc
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
        raise CacheCorruptedError(f"stored result {folder} is corrupted ({type(exc).__name__}: {exc}); "
                                  f"delete the folder to recompute it") from exc
    result["_provenance"] = provenance
    return result


def cached(profile: str, experiment: str, config: dict[str, Any], compute: Callable[[], dict[str, Any]], *,
           device: str | torch.device = "cpu", data_copy: Any = None, refresh: bool = False) -> dict[str, Any]:
    """Load the result for this configuration, or compute, store and return it (timed)."""
    if not refresh:
        hit = load(profile, experiment, config)
        if hit is not None:
            hit["_cached"] = True
            return hit
    start = time.perf_counter()
    result = compute()
    if not isinstance(result, dict):
        raise TypeError(f"compute() must return a dict, got {type(result).__name__}")
    save(profile, experiment, config, result, wall_time_s=time.perf_counter() - start, device=device,
         data_copy=data_copy)
    out = load(profile, experiment, config)
    assert out is not None
    out["_cached"] = False
    return out


def list_entries(profile: str) -> list[dict[str, Any]]:
    """Return the provenance records of every stored result of a profile, sorted by experiment and date."""
    root = artifacts_dir() / profile
    records = []
    for prov in sorted(root.glob("*/*/provenance.json")):
        try:
            records.append(json.loads(prov.read_text()))
        except (OSError, ValueError) as exc:
            raise CacheCorruptedError(f"{prov} is corrupted ({exc}); delete its folder") from exc
    return sorted(records, key=lambda r: (r.get("experiment", ""), r.get("date", "")))
