"""A shared training loop: tqdm progress, a checkpoint every N steps, exact resume after interruption.

The caller gives a `step(i) -> dict of floats` function and the objects whose state matters
(models, optimizers, schedulers: anything with state_dict/load_state_dict). The checkpoint holds
those states, every RNG state, the step count and the metric history, so a resumed run continues
exactly where the interrupted one stopped. Use `StepSampler` for batches that depend on the step
index only, which keeps the data order identical across a resume.

Inside `gancnn.book.cache.cached` the checkpoint belongs to the computation: it is deleted once the result is
stored (and the step it resumed from is recorded in the provenance), so a deleted result is recomputed rather
than replayed. Checkpoint temporaries left by killed writers are removed when a loop starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from tqdm import tqdm  # plain text bars: no widget warnings in executed pages

from gancnn.book import cache
from gancnn.book.seed import rng_state, set_rng_state

PRECISIONS = ("fp32", "bf16")
BF16_CPU_CAPABILITIES = ("AVX512", "AVX512_BF16", "AMX")  # torch's CPU capabilities with oneDNN's bf16 kernels
Config = TypeVar("Config")  # a frozen dataclass with a `precision` field


def bf16_accelerated(device: torch.device | str) -> bool:
    """Whether bf16 autocast has fast kernels here: a CUDA GPU with bf16, or a CPU with AVX-512 (oneDNN's bf16).

    On an AVX2-only CPU, PyTorch emulates bf16 convolutions; measured on this project's AVX2 machine a training
    step then runs about 10x slower than in fp32, where AVX-512 machines ran it about 2x faster.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if dev.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN's probe: fall back to the dispatch level
        return torch.backends.cpu.get_cpu_capability() in BF16_CPU_CAPABILITIES


def machine_precision(precision: str, device: torch.device | str) -> str:
    """The precision a run asking for `precision` trains at here: bf16 only where it is accelerated, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return "bf16" if precision == "bf16" and bf16_accelerated(device) else "fp32"


def for_machine(cfg: Config, device: torch.device | str) -> Config:
    """The configuration `cfg` trains under on this device: its bf16 falls back to fp32 where not accelerated."""
    return replace(cfg, precision=machine_precision(cfg.precision, device))  # type: ignore[type-var]


def precision_variants(cfg: Config) -> list[Config]:
    """`cfg`, then (when it asks for bf16) the same run at fp32: the stored runs that answer a request for `cfg`."""
    if cfg.precision == "bf16":  # type: ignore[attr-defined]
        return [cfg, replace(cfg, precision="fp32")]  # type: ignore[type-var]
    return [cfg]


def load_any_precision(cfg: Config, load: Callable[[Config], dict[str, Any] | None]) -> dict[str, Any] | None:
    """The first stored run among `precision_variants(cfg)` (`load` returns None when one is absent), or None."""
    for variant in precision_variants(cfg):  # a bf16 run trained at fp32 on a machine without fast bf16
        record = load(variant)
        if record is not None:
            return record
    return None


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on the given device, or nothing for fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


class Stateful(Protocol):
    """Anything with state_dict/load_state_dict (modules, optimizers, schedulers, GradScalers)."""

    def state_dict(self) -> dict[str, Any]:
        """The object's state, to be written into a checkpoint."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> Any:
        """Restore the object from a checkpoint's state."""
        ...


class StepSampler:
    """Mini-batch indices as a pure function of (seed, step): one fresh permutation per epoch."""

    def __init__(self, n_items: int, batch_size: int, seed: int = 0, drop_last: bool = True) -> None:
        """Fix the data size, batch size and seed."""
        if n_items <= 0 or batch_size <= 0:
            raise ValueError(f"n_items and batch_size must be positive, got {n_items}, {batch_size}")
        if drop_last and batch_size > n_items:
            raise ValueError(f"batch_size {batch_size} exceeds the {n_items} items with drop_last=True")
        self.n_items, self.batch_size, self.seed, self.drop_last = n_items, batch_size, seed, drop_last
        self.steps_per_epoch = n_items // batch_size if drop_last else -(-n_items // batch_size)
        self._epoch, self._perm = -1, np.arange(0)

    def indices(self, step: int) -> np.ndarray:
        """Return the indices of the batch used at a global step."""
        epoch, within = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n_items)
            self._epoch = epoch
        return self._perm[within * self.batch_size : (within + 1) * self.batch_size]


M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Tell glibc's allocator to keep freed memory for reuse instead of returning it to the system after every
    batch (mallopt: trim and mmap thresholds 1 GiB, top pad 256 MiB). Large activations (Inception's 299 x 299
    maps) are otherwise mapped, zeroed by the kernel and unmapped on every batch, which costs more system time
    than the convolutions on two cores. Only the allocation policy changes, never a number; False where the C
    library has no mallopt (not glibc)."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    settings = ((M_TRIM_THRESHOLD, 1 << 30), (M_TOP_PAD, 1 << 28), (M_MMAP_THRESHOLD, 1 << 30))
    return all(libc.mallopt(param, value) == 1 for param, value in settings)


def progress_enabled() -> bool:
    """Progress bars are shown unless GANCNN_PROGRESS=0 (the book build sets it: bars belong in terminals)."""
    return os.environ.get("GANCNN_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "")


def progress_bar(total: int, desc: str, initial: int = 0, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A plain-text tqdm bar, silent when disabled by the caller or by GANCNN_PROGRESS=0."""
    return tqdm(
        total=total, initial=initial, desc=desc, disable=not (enabled and progress_enabled()), mininterval=2.0, **kwargs
    )


def _temporary_pattern(path: Path) -> re.Pattern[str]:
    """Match the names of a checkpoint's temporaries, `<name>.tmp<pid>`, capturing the writer's pid."""
    return re.compile(re.escape(path.name) + r"\.tmp(?P<pid>\d+)$")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`, with a clear error if it is damaged."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise RuntimeError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); delete it to restart"
        ) from exc


def _resume(path: Path, objects: Mapping[str, Stateful]) -> tuple[int, list[dict[str, float]]]:
    """Clean dead writers' temporaries, restore and register a checkpoint; return its step and metric history."""
    cache.remove_dead_temporaries(path.parent, _temporary_pattern(path))
    start, history = 0, []
    if path.exists():
        state = load_checkpoint(path)
        if set(state["objects"]) != set(objects):
            raise RuntimeError(f"checkpoint {path} holds {sorted(state['objects'])}, expected {sorted(objects)}")
        for name, obj in objects.items():
            obj.load_state_dict(state["objects"][name])
        set_rng_state(state["rng"])
        start, history = state["step"], state["history"]
    cache.register_checkpoint(path, resumed_from_step=start)
    return start, history


def run_loop(
    step: Callable[[int], Mapping[str, float]],
    n_steps: int,
    objects: Mapping[str, Stateful],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    every: int = 100,
    desc: str = "training",
    progress: bool = True,
    on_checkpoint: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Run steps start..n_steps-1 (resuming from `checkpoint` if it exists); return the metric history.

    The checkpoint is registered with the `cached` computation running it, if any (see the module docstring).
    """
    if n_steps < 0 or every <= 0:
        raise ValueError(f"n_steps must be >= 0 and every > 0, got {n_steps}, {every}")
    path = Path(checkpoint) if checkpoint is not None else None
    start, history = _resume(path, objects) if path is not None else (0, [])

    def snapshot(done: int) -> None:
        """Save every state after `done` steps."""
        if path is None:
            return
        save_checkpoint(
            path,
            {
                "step": done,
                "history": history,
                "rng": rng_state(),
                "objects": {k: v.state_dict() for k, v in objects.items()},
            },
        )
        if on_checkpoint is not None:
            on_checkpoint(done)

    bar = progress_bar(n_steps, desc, initial=start, enabled=progress)
    for i in range(start, n_steps):
        metrics = {k: float(v) for k, v in step(i).items()}
        metrics["step"] = i
        history.append(metrics)
        bar.update(1)
        if (i + 1) % every == 0 or i + 1 == n_steps:
            bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k != "step"}, refresh=False)
            snapshot(i + 1)
    bar.close()
    return history
