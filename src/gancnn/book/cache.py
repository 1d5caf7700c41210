"""A result cache keyed by a hash of an experiment's configuration, with provenance.

Layout: `artifacts/<profile>/<experiment>/<key>/` holding `result.json` (scalars, lists,
strings), `arrays.npz` (NumPy arrays), `tensors.pt` (torch tensors and state dicts) and
`provenance.json` (date, device, git commit, data copy, wall time, config, file checksums).
joblib.Memory was considered: it keys on the function's code and pickles results into its own
layout, while the book needs readable, committed artifacts keyed on the configuration alone.

Concurrency (`flock` lock files beside the entry, removed again on release): `cached` holds the compute lock
`<experiment>/.<key>.lock` across its check, compute and save, so of several processes asking for the same
result one computes and the others wait and load it. `save` and `load` hold the short swap lock
`.<key>.swap.lock`, so a load never waits for a computation, only for a save in progress. A save writes
`.<key>.<pid>.new-*`, sets an existing entry aside as `.<key>.<pid>.old-*` and renames the new folder in;
temporaries of killed writers (dead pid, or older than `STALE_AFTER_S`) are removed by the next save or load
in that experiment, and a set-aside entry whose replacement never landed is put back.

Checkpoints: a training loop run inside `cached` registers its checkpoint with `register_checkpoint` (a
thread-local stack, as `cached` may nest). Once the result is stored the computation's checkpoints are deleted,
so a deleted entry is recomputed rather than replayed from a finished checkpoint; if compute() raises or the
process dies first they stay, and the next call resumes from them and records `resumed_from_step` in the
provenance.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gancnn.book.paths import artifacts_dir, project_root

FILES = ("result.json", "arrays.npz", "tensors.pt")
STALE_AFTER_S = 300.0  # a temporary folder this old (or with a dead writer pid) belongs to a killed save
# `.<key>.<pid>.new-XXXX` / `.<key>.<pid>.old-XXXX`, and `.<key>.XXXXXXXX` from before pids were recorded
_TEMP = re.compile(r"^\.(?P<key>[0-9a-f]{16})\.(?:(?P<pid>\d+)\.(?P<kind>new|old)-)?[^.]+$")
_held = threading.local()  # lock files this thread holds, to fail rather than deadlock on re-entry
_running = threading.local()  # per running compute() (innermost last): checkpoint path -> step it resumed from
_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)  # a lock file cannot be created: read without it


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


def _canonical(config: Any) -> str:
    """Return the canonical JSON text of a configuration (what its key hashes)."""
    return json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))


def config_key(config: dict[str, Any]) -> str:
    """Return a 16-hex-digit SHA-256 of the canonical JSON of a configuration."""
    return hashlib.sha256(_canonical(config).encode()).hexdigest()[:16]


def uncommitted_changes() -> list[str] | None:
    """Tracked files that differ from HEAD (paths from the repository root, sorted), or None outside git."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "-z"],
            cwd=project_root(),
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    # -z entries are 'XY path' separated by NUL; a rename adds its old path as a further entry without 'XY '
    entries = status.stdout.split("\0")
    paths, skip_next = [], False
    for entry in entries:
        if skip_next or not entry:
            skip_next = False
            continue
        paths.append(entry[3:])
        skip_next = entry[0] in "RC"
    return sorted(paths)


def git_commit() -> str:
    """Return the current git commit (with '-dirty' when the tree has changes), or 'unknown'."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changes = uncommitted_changes()
    return head.stdout.strip() + ("-dirty" if changes else "")


def code_state() -> tuple[str, list[str] | None]:
    """(commit, uncommitted changes) of the project's working tree now."""
    return git_commit(), uncommitted_changes()


# The working tree when this process imported the cache, per project root: a long process that stores several
# entries ran the code it imported, which later edits of the tree (recorded at each computation's start) do not change.
_CODE_AT_IMPORT: dict[str, tuple[str, list[str] | None]] = {str(project_root()): code_state()}


def short_commit(commit: str) -> str:
    """A commit cut to 12 hex digits for a table, keeping its '-dirty' mark ('unknown' as it is)."""
    dirty = commit.endswith("-dirty")
    return commit.removesuffix("-dirty")[:12] + ("-dirty" if dirty else "")


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


def _held_locks() -> set[Path]:
    """Return the set of lock files the current thread holds."""
    if not hasattr(_held, "paths"):
        _held.paths = set()
    return _held.paths


def _lock_file(folder: Path, purpose: str) -> Path:
    """Return an entry's lock file beside it: `.<key>.lock` (compute) or `.<key>.swap.lock` (save and load)."""
    return folder.parent / (f".{folder.name}.lock" if purpose == "compute" else f".{folder.name}.{purpose}.lock")


def _acquire(path: Path, blocking: bool) -> int | None:
    """Open and flock a lock file; None when busy and not blocking. Retries when the holder removed the file."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            linked = os.fstat(fd).st_ino == os.stat(path).st_ino
        except BlockingIOError:
            os.close(fd)
            return None
        except FileNotFoundError:
            linked = False
        except BaseException:
            os.close(fd)
            raise
        if linked:
            return fd
        os.close(fd)  # we locked a file the previous holder had already removed: lock the current one


@contextmanager
def _entry_lock(
    folder: Path, purpose: str = "swap", *, blocking: bool = True, optional: bool = False, waiting: str | None = None
) -> Iterator[bool]:
    """Hold an entry's lock; yield False if busy (non-blocking) or, if optional, on a read-only artifacts copy."""
    path = _lock_file(folder, purpose)
    held = _held_locks()
    if path in held:
        if not blocking:
            yield False
            return
        raise RuntimeError(
            f"{path.name} is already held by this thread: a compute() must not call cached() for its own entry"
        )
    try:
        fd = _acquire(path, blocking=False)
        if fd is None and blocking:
            if waiting:
                print(f"cache: {waiting}", file=sys.stderr, flush=True)
            fd = _acquire(path, blocking=True)
    except OSError as exc:
        if not optional or exc.errno not in _READ_ONLY:
            raise
        fd = None  # a read-only copy of the artifacts: nobody writes there, read without the lock
    if fd is None:
        yield False
        return
    held.add(path)
    try:
        yield True
    finally:
        held.discard(path)
        try:
            path.unlink(missing_ok=True)  # while still holding it, so nobody locks the removed file unnoticed
        except OSError:
            pass
        os.close(fd)


def _computations() -> list[dict[Path, int]]:
    """Return the current thread's stack of running computations, innermost last."""
    if not hasattr(_running, "stack"):
        _running.stack = []
    return _running.stack


@contextmanager
def _computation() -> Iterator[dict[Path, int]]:
    """Open the checkpoint registry of the compute() about to run; it closes when compute() returns or raises."""
    checkpoints: dict[Path, int] = {}
    stack = _computations()
    stack.append(checkpoints)
    try:
        yield checkpoints
    finally:
        stack.pop()


def register_checkpoint(path: str | os.PathLike[str], resumed_from_step: int = 0) -> None:
    """Tie a checkpoint to the computation running inside `cached` (no-op outside one): deleted once it is stored."""
    stack = _computations()
    if stack:
        stack[-1].setdefault(Path(path), int(resumed_from_step))  # the first use tells whether it resumed


def _resumed_from(checkpoints: dict[Path, int]) -> int | dict[str, int]:
    """Return the step a computation resumed from: 0 if none, a {checkpoint name: step} map if several resumed."""
    resumed = {path.name: step for path, step in checkpoints.items() if step}
    if len(resumed) > 1:
        return resumed
    return next(iter(resumed.values()), 0)


def _forget_checkpoints(checkpoints: dict[Path, int]) -> None:
    """Delete the checkpoints of a stored result, so that they never stand in for its recomputation."""
    for path in checkpoints:
        path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    """Return True when a process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_temporaries(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Remove the files in a folder whose name matches `pattern` with a `pid` group naming a dead process."""
    try:
        paths = sorted(folder.iterdir())
    except FileNotFoundError:
        return []
    removed = []
    for path in paths:
        match = pattern.match(path.name)
        if match and path.is_file() and not _pid_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _is_stale(tmp: Path, pid: str | None) -> bool:
    """Return True for a temporary folder of a dead writer, or one older than STALE_AFTER_S."""
    if pid is not None and not _pid_alive(int(pid)):
        return True
    try:
        return time.time() - tmp.stat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return False


def _dispose(tmp: Path, final: Path, kind: str | None) -> None:
    """Put a set-aside entry back when its replacement never landed, else delete the temporary folder."""
    if kind == "old" and not final.exists():
        os.rename(tmp, final)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def _clean_stale(parent: Path, held_key: str) -> None:
    """Remove the temporaries of killed saves in an experiment folder, each under its entry's swap lock."""
    try:
        names = sorted(parent.iterdir())
    except FileNotFoundError:
        return
    for tmp in names:
        match = _TEMP.match(tmp.name)
        if not match or not tmp.is_dir() or not _is_stale(tmp, match["pid"]):
            continue
        final = parent / match["key"]
        if match["key"] == held_key:
            _dispose(tmp, final, match["kind"])
            continue
        with _entry_lock(final, blocking=False, optional=True) as locked:
            if locked and tmp.is_dir():
                _dispose(tmp, final, match["kind"])


def _swap_in(tmp: Path, final: Path) -> None:
    """Rename a finished folder to the entry's name, setting an existing entry aside first (lock held)."""
    aside = None
    if final.exists():
        aside = final.parent / f".{final.name}.{os.getpid()}.old-{secrets.token_hex(4)}"
        os.rename(final, aside)
    try:
        os.replace(tmp, final)
    except BaseException:
        if aside is not None and not final.exists():
            os.rename(aside, final)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _save_locked(
    final: Path,
    profile: str,
    experiment: str,
    config: dict[str, Any],
    result: dict[str, Any],
    *,
    wall_time_s: float,
    device: str | torch.device,
    data_copy: Any,
    resumed_from_step: int | dict[str, int] = 0,
    code_at_start: tuple[str, list[str] | None] | None = None,
) -> None:
    """Write a result into a temporary folder and swap it in; the caller holds the entry's swap lock.

    `code_at_start` (commit, uncommitted changes) is the working tree when the computation began: recorded as the
    entry's commit, with the tree at save time beside it when that differs (edited while it ran), and the tree when
    this process imported the cache when that differs (edited before this computation of a longer process began)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.new-", dir=final.parent))
    try:
        _write(tmp, result)
        files = {f: _sha256(tmp / f) for f in FILES if (tmp / f).exists()}
        now = code_state()
        commit, changes = code_at_start or now
        imported = _CODE_AT_IMPORT.get(str(project_root()))
        provenance = {
            "experiment": experiment,
            "profile": profile,
            "key": final.name,
            "config": _jsonable(config),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "device": device_description(device),
            "git_commit": commit,
            "uncommitted_changes": changes,  # what '-dirty' means: the files that differed from HEAD
            "data_copy": _jsonable(data_copy.as_dict() if hasattr(data_copy, "as_dict") else data_copy),
            "wall_time_s": round(float(wall_time_s), 3),
            "torch": torch.__version__,
            "files": files,
        }
        if resumed_from_step:
            provenance["resumed_from_step"] = resumed_from_step
        if (commit, changes) != now:
            provenance["code_at_save"] = {"git_commit": now[0], "uncommitted_changes": now[1]}
        if imported is not None and imported != (commit, changes):
            provenance["code_at_import"] = {"git_commit": imported[0], "uncommitted_changes": imported[1]}
        (tmp / "provenance.json").write_text(json.dumps(provenance, indent=1, sort_keys=True))
        _swap_in(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save(
    profile: str,
    experiment: str,
    config: dict[str, Any],
    result: dict[str, Any],
    *,
    wall_time_s: float,
    device: str | torch.device = "cpu",
    data_copy: Any = None,
) -> Path:
    """Store a result atomically (write to a temporary folder, then rename) with its provenance."""
    final = entry_dir(profile, experiment, config)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _entry_lock(final):
        _clean_stale(final.parent, final.name)
        _save_locked(
            final, profile, experiment, config, result, wall_time_s=wall_time_s, device=device, data_copy=data_copy
        )
    return final


def _check_config(folder: Path, provenance: dict[str, Any], config: dict[str, Any]) -> None:
    """Fail when an entry's recorded configuration is not the requested one."""
    stored, wanted = _canonical(provenance["config"]), _canonical(config)
    if stored != wanted:
        raise CacheCorruptedError(f"{folder} holds the result of config {stored}, not of the requested {wanted}")


def _load_locked(folder: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """Read an entry back, checking its configuration and checksums; None when absent (swap lock held)."""
    if not folder.is_dir():
        return None
    try:
        provenance = json.loads((folder / "provenance.json").read_text())
        _check_config(folder, provenance, config)
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
        raise CacheCorruptedError(
            f"stored result {folder} is corrupted ({type(exc).__name__}: {exc}); delete the folder to recompute it"
        ) from exc
    result["_provenance"] = provenance
    return result


def load(profile: str, experiment: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """Return a stored result (with its provenance under '_provenance') or None when absent."""
    folder = entry_dir(profile, experiment, config)
    if not folder.parent.is_dir():
        return None
    return _load_checked(folder, config)


def rekey(profile: str, experiment: str, old_config: dict[str, Any], new_config: dict[str, Any], reason: str) -> Path:
    """Move a stored entry to the key of an equivalent configuration (e.g. a renamed knob), keeping its provenance.

    The result files and their checksums stay as they are; the provenance gets the new configuration and key
    and a `rekeyed` record (old key, reason, date). Fails when the old entry is absent or the new one exists.
    """
    old, new = entry_dir(profile, experiment, old_config), entry_dir(profile, experiment, new_config)
    if new.exists():
        raise FileExistsError(f"{new} exists already; delete it first or keep the old entry")
    with _entry_lock(old):
        if _load_locked(old, old_config) is None:
            raise FileNotFoundError(f"no stored {experiment} entry {old.name} under profile {profile}")
        provenance = json.loads((old / "provenance.json").read_text())
        provenance["rekeyed"] = {
            "from": old.name,
            "reason": reason,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        provenance.update(key=new.name, config=_jsonable(new_config))
        (old / "provenance.json").write_text(json.dumps(provenance, indent=1, sort_keys=True))
        os.rename(old, new)
    return new


def _load_checked(folder: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """Clean stale temporaries and read an entry under its swap lock (without it on a read-only copy)."""
    with _entry_lock(folder, optional=True) as locked:
        if locked:
            _clean_stale(folder.parent, folder.name)
        return _load_locked(folder, config)


def cached(
    profile: str,
    experiment: str,
    config: dict[str, Any],
    compute: Callable[[], dict[str, Any]],
    *,
    device: str | torch.device = "cpu",
    data_copy: Any = None,
    refresh: bool = False,
) -> dict[str, Any]:
    """Load the result for this configuration, or compute, store and return it (timed; one process computes).

    Checkpoints that compute() registered (`register_checkpoint`) are deleted once the result is stored. The
    provenance names the commit of the working tree when compute() started (the code that ran), not at save.
    """
    folder = entry_dir(profile, experiment, config)
    folder.parent.mkdir(parents=True, exist_ok=True)
    waiting = f"waiting for another process computing {experiment}/{folder.name}"
    with _entry_lock(folder, "compute", optional=True, waiting=waiting):
        if not refresh:
            hit = _load_checked(folder, config)
            if hit is not None:
                hit["_cached"] = True
                return hit
        start = time.perf_counter()
        code_at_start = code_state()
        with _computation() as checkpoints:
            result = compute()
        if not isinstance(result, dict):
            raise TypeError(f"compute() must return a dict, got {type(result).__name__}")
        with _entry_lock(folder):
            _clean_stale(folder.parent, folder.name)
            _save_locked(
                folder,
                profile,
                experiment,
                config,
                result,
                wall_time_s=time.perf_counter() - start,
                device=device,
                data_copy=data_copy,
                resumed_from_step=_resumed_from(checkpoints),
                code_at_start=code_at_start,
            )
            out = _load_locked(folder, config)
        _forget_checkpoints(checkpoints)
    assert out is not None
    out["_cached"] = False
    return out


def list_entries(profile: str) -> list[dict[str, Any]]:
    """Return the provenance records of every stored result of a profile, sorted by experiment and date."""
    root = artifacts_dir() / profile
    records = []
    for prov in sorted(root.glob("*/*/provenance.json")):
        if prov.parent.name.startswith("."):
            continue  # a save in progress, an entry being replaced, or a killed save's leftover
        try:
            records.append(json.loads(prov.read_text()))
        except (OSError, ValueError) as exc:
            raise CacheCorruptedError(f"{prov} is corrupted ({exc}); delete its folder") from exc
    return sorted(records, key=lambda r: (r.get("experiment", ""), r.get("date", "")))
