"""The five CIFAR-10 classifiers of the AdjointBackMap chapters, trained once and stored with provenance.

The schedule is modern rather than the source's (300-500 epochs of plain gradient descent, which
stay the full profile in `gancnn.adjoint.training`): SGD with Nesterov momentum (AdamW for the
bias-free VGG7, which has neither BN nor bias and learns slowly with SGD), a one-cycle learning
rate, random crop (4-pixel zero padding) and horizontal flip (and, where a schedule sets `cutout`, one
zeroed square per image), label smoothing 0.1, weight decay on kernels only, bf16 autocast with
channels_last. The split is the source's: 45k train / 5k
validation from the training images, and all 10,000 test images. Inputs are normalised exactly as
the chapters normalise them (`classifier_training.normalize`).

Storage: `artifacts/reference/classifier-<name>/<config-hash>/` through `gancnn.book.cache` (weights in
fp32 in `tensors.pt`, per-epoch curves in `result.json`, provenance beside them). Training resumes
from `runs/checkpoints/reference-<name>-<hash>.pt`, written every `checkpoint_every` steps.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gancnn import data
from gancnn.adjoint.training import (
    MODEL_NAMES,
    SOURCE_SCHEDULES,
    build_model,
    normalize,
    split_indices,
    training_device,
)
from gancnn.book import cache
from gancnn.book.paths import runs_dir
from gancnn.book.seed import seed_everything
from gancnn.models import count_parameters
from gancnn.train import StepSampler, autocast, for_machine, load_any_precision, run_loop

PROFILE = "reference"


@dataclass(frozen=True)
class ReferenceConfig:
    """Everything that determines a reference classifier (its cache key)."""

    name: str
    dataset: str = "cifar10"
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"  # "sgd" (Nesterov) | "adamw"
    lr_max: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    pct_start: float = 0.25
    crop_padding: int = 4
    n_train: int = 45000
    n_val: int = 5000
    precision: str = "bf16"  # "bf16" autocast | "fp32"
    channels_last: bool = True
    seed: int = 0
    shuffle_labels: bool = False  # the data-randomisation test: train on a seeded permutation of the labels
    hflip: bool = True  # random horizontal flips (off for memorising shuffled labels: a flip is a new image)
    cutout: int = 0  # side of the square zeroed in each normalised image (DeVries & Taylor 2017); 0: off
    jpeg_quality: int = 0  # save every image (train, validation, test) once more as JPEG at this quality; 0: as loaded

    def __post_init__(self) -> None:
        """Fail at once on values that cannot train."""
        if self.name not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.name!r}; choose one of {MODEL_NAMES}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.precision not in ("bf16", "fp32"):
            raise ValueError(f"precision must be 'bf16' or 'fp32', got {self.precision!r}")
        for knob in ("epochs", "batch_size", "n_train", "n_val"):
            value = getattr(self, knob)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{knob} must be a positive int, got {value!r}")
        if not isinstance(self.cutout, int) or isinstance(self.cutout, bool) or not 0 <= self.cutout <= 32:
            raise ValueError(f"cutout must be an int side in [0, 32], got {self.cutout!r}")
        if not 0.0 < self.lr_max < 10.0 or not 0.0 < self.pct_start < 1.0:
            raise ValueError(f"lr_max must be in (0, 10) and pct_start in (0, 1), got {self.lr_max}, {self.pct_start}")


# The schedule of each network (the five trained in 6.6 hours together on 2 CPU cores with fast bf16, measured).
REFERENCE_CONFIGS: dict[str, ReferenceConfig] = {
    "vgg7-bn": ReferenceConfig("vgg7-bn", epochs=120, lr_max=0.2, cutout=8),
    "vgg7": ReferenceConfig("vgg7", epochs=100, optimizer="adamw", lr_max=3e-3, weight_decay=5e-2),
    "resnet20-bn": ReferenceConfig("resnet20-bn", epochs=75, lr_max=0.2, cutout=8),
    "fixup-resnet20": ReferenceConfig("fixup-resnet20", epochs=60, lr_max=0.1),
    "resnet20-fixup": ReferenceConfig("resnet20-fixup", epochs=45, lr_max=0.1),
}


# Adebayo et al.'s data-randomisation test needs the same architecture trained on shuffled labels until it fits
# them: no augmentation at all (a flip or a crop is a new image with the same random label), no label smoothing or
# weight decay, a 2,000-image subset so it memorises within minutes. (5,000 images with flips over 60 epochs fitted
# only 17% of the shuffled labels.) Validation and test use the true labels (about 10%: nothing generalises).
SHUFFLED_LABEL_CONFIGS: dict[str, ReferenceConfig] = {
    "vgg7": ReferenceConfig(
        "vgg7",
        epochs=400,
        optimizer="adamw",
        lr_max=1e-3,
        weight_decay=0.0,
        label_smoothing=0.0,
        crop_padding=0,
        hflip=False,
        n_train=2000,
        n_val=1000,
        shuffle_labels=True,
    ),
}


# How much accuracy does lossy compression cost? The CIFAR-10 copy here is JPEG q75 (the source trained on the
# originals, absent here). VGG7-BN on a short schedule (30 of its 120 epochs), on the copy as loaded and on the same
# images saved once more at coarser qualities (training, validation and test alike): the slope of accuracy against
# the extra loss of detail bounds what the copy's own compression may cost. The copy as loaded and the mildest
# re-encoding run at three seeds each (a seed sets the initialisation, the training / validation split, the batch
# order and the augmentation), so each seed's change is paired with the same seed as loaded and the spread is seen.
JPEG_SENSITIVITY_SEEDS: dict[int, tuple[int, ...]] = {0: (0, 1, 2), 50: (0, 1, 2), 25: (0,)}
JPEG_SENSITIVITY_CONFIGS: dict[tuple[int, int], ReferenceConfig] = {
    (quality, seed): ReferenceConfig("vgg7-bn", epochs=30, lr_max=0.2, cutout=8, jpeg_quality=quality, seed=seed)
    for quality, seeds in JPEG_SENSITIVITY_SEEDS.items()
    for seed in seeds
}


def source_accuracy(name: str, dataset: str = "cifar10") -> float:
    """The test accuracy (%) the source reports for a network."""
    return SOURCE_SCHEDULES[(name, dataset)][1]


def verdict(ours: float, source: float) -> str:
    """'reproduced' at or above the source, 'reproduced (within 1 point)' within one point, else 'below the source'."""
    if ours >= source:
        return "reproduced"
    return "reproduced (within 1 point)" if ours >= source - 1.0 else "below the source"


def record_verdict(record: dict[str, Any]) -> str:
    """The verdict of a chapter's network record: against the source, or 'not comparable' for a quick fallback."""
    if record.get("origin") == "quick-fallback":
        return "not comparable (quick fallback)"
    return verdict(float(record["test_acc"]), float(record["source_test_acc"]))


def cached_images(dataset: str, split: str, jpeg_quality: int = 0) -> tuple[torch.Tensor, torch.Tensor, data.DataCopy]:
    """All images of a split as uint8 (N, 3, 32, 32) and labels, decoded once into `runs/data-cache/` (saved once
    more as JPEG at `jpeg_quality` first when it is not 0: `data.reencode_jpeg`)."""
    ds = data.load(dataset, split, transform="pil")
    copy = ds.data_copy
    suffix = f"-reencoded-q{jpeg_quality}" if jpeg_quality else ""
    path = runs_dir() / "data-cache" / f"{dataset}-{copy.copy}-{split}{suffix}.pt"
    if path.exists():
        stored = torch.load(path, weights_only=True)
        if len(stored["y"]) == len(ds):
            return stored["x"], stored["y"], copy
    if jpeg_quality:
        x, y, _ = cached_images(dataset, split)
        x = data.reencode_jpeg(x, jpeg_quality)
    else:
        x, y = data.to_tensors(ds)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"x": x, "y": y}, tmp)
    tmp.replace(path)
    return x, y, copy


def cutout(x: torch.Tensor, gen: torch.Generator, size: int) -> torch.Tensor:
    """Zero one size x size square per image (all channels), centred uniformly and clipped at the border; a new
    tensor (the cutout of DeVries & Taylor 2017, on normalised images so the square is the mean colour)."""
    if size == 0:
        return x
    n, _, h, w = x.shape
    ci = torch.randint(0, h, (n,), generator=gen).view(n, 1, 1)
    cj = torch.randint(0, w, (n,), generator=gen).view(n, 1, 1)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (rows >= ci - size // 2) & (rows < ci + size - size // 2) & (cols >= cj - size // 2)
    inside &= cols < cj + size - size // 2
    return x.masked_fill(inside.unsqueeze(1), 0.0)


def flip_crop(x_uint8: torch.Tensor, gen: torch.Generator, padding: int, hflip: bool = True) -> torch.Tensor:
    """Random horizontal flip and random crop after zero padding, vectorised over the batch (uint8 in, uint8 out)."""
    n, _, h, w = x_uint8.shape
    flip = (torch.rand(n, generator=gen) < 0.5) & hflip
    x = torch.where(flip.view(n, 1, 1, 1), x_uint8.flip(3), x_uint8)
    if padding == 0:
        return x
    padded = F.pad(x, (padding,) * 4)
    di = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    dj = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    rows = (di.view(n, 1) + torch.arange(h).view(1, h)).view(n, 1, h, 1)
    cols = (dj.view(n, 1) + torch.arange(w).view(1, w)).view(n, 1, 1, w)
    batch = torch.arange(n).view(n, 1, 1, 1)
    channel = torch.arange(x.shape[1]).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]


@torch.no_grad()
def evaluate(
    model: nn.Module, x_uint8: torch.Tensor, y: torch.Tensor, device: torch.device | str = "cpu", batch_size: int = 1000
) -> tuple[float, float]:
    """(top-1 accuracy %, mean cross-entropy) in eval mode and fp32."""
    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(y), batch_size):
        xb = normalize(x_uint8[i : i + batch_size]).to(device)
        yb = y[i : i + batch_size].to(device)
        logits = model(xb).float()
        correct += int((logits.argmax(1) == yb).sum())
        loss += float(F.cross_entropy(logits, yb, reduction="sum"))
    model.train(was_training)
    return 100.0 * correct / len(y), loss / len(y)


def make_optimizer(model: nn.Module, cfg: ReferenceConfig) -> torch.optim.Optimizer:
    """SGD-Nesterov or AdamW; weight decay on kernels (ndim > 1) only, never on BN, biases or multipliers."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr_max)
    return torch.optim.SGD(groups, lr=cfg.lr_max, momentum=cfg.momentum, nesterov=True)


def checkpoint_path(cfg: ReferenceConfig) -> Any:
    """Where the resumable state of a reference run lives."""
    return runs_dir() / "checkpoints" / f"reference-{cfg.name}-{cache.config_key(schedule_fields(cfg))}.pt"


def train(
    cfg: ReferenceConfig,
    device: str = "cpu",
    progress: bool = True,
    checkpoint_every: int = 100,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Train per `cfg` (resuming from its checkpoint); return fp32 weights, per-epoch curves and test accuracy.

    `max_steps` stops early (for tests of kill and resume); the result is then marked incomplete.
    """
    dev = training_device(device)
    seed_everything(cfg.seed)
    x_all, y_all, copy = cached_images(cfg.dataset, "train", cfg.jpeg_quality)
    tr_idx, va_idx = split_indices(cfg, len(y_all))  # the same split as the source-schedule trainer
    x_tr, y_tr = x_all[tr_idx], y_all[tr_idx]
    x_va, y_va = x_all[va_idx], y_all[va_idx]
    if cfg.shuffle_labels:  # validation and test keep their true labels: they measure what was learned
        y_tr = y_tr[torch.randperm(len(y_tr), generator=torch.Generator().manual_seed(cfg.seed + 7919))]
    model = build_model(cfg.name, int(y_all.max()) + 1).to(dev)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    sampler = StepSampler(cfg.n_train, cfg.batch_size, seed=cfg.seed)
    steps_per_epoch = sampler.steps_per_epoch
    n_steps = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=cfg.lr_max,
        total_steps=n_steps,
        pct_start=cfg.pct_start,
        anneal_strategy="cos",
        div_factor=25.0,
        final_div_factor=1e3,
    )
    epoch_clock = {"start": time.perf_counter()}

    def step(i: int) -> dict[str, float]:
        """One mini-batch; validation at the end of every epoch."""
        idx = torch.as_tensor(sampler.indices(i))
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + i)  # augmentation is a function of the step
        xb = cutout(normalize(flip_crop(x_tr[idx], gen, cfg.crop_padding, cfg.hflip)), gen, cfg.cutout).to(dev)
        if cfg.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = y_tr[idx].to(dev)
        model.train()
        with autocast(dev, cfg.precision):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), yb, label_smoothing=cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        out = {"loss": float(loss.detach()), "lr": lr, "train_correct": float((logits.argmax(1) == yb).sum()) / len(yb)}
        if (i + 1) % steps_per_epoch == 0:
            out["val_acc"], out["val_loss"] = evaluate(model, x_va, y_va, dev)
            out["epoch_seconds"] = time.perf_counter() - epoch_clock["start"]
            epoch_clock["start"] = time.perf_counter()
        return out

    start = time.perf_counter()
    stop = n_steps if max_steps is None else min(n_steps, max_steps)
    history = run_loop(
        step,
        stop,
        {"model": model, "opt": opt, "sched": sched},
        checkpoint=checkpoint_path(cfg),
        every=checkpoint_every,
        desc=f"reference {cfg.name}",
        progress=progress,
    )
    curves = epoch_curves(history, steps_per_epoch)
    x_te, y_te, _ = cached_images(cfg.dataset, "test", cfg.jpeg_quality)
    model = model.to(memory_format=torch.contiguous_format)
    test_acc, test_loss = evaluate(model, x_te, y_te, dev)
    fit_acc, _ = evaluate(model, x_tr, y_tr, dev)  # the labels it was trained on (shuffled ones when shuffled)
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() if v.is_floating_point() else v.detach().cpu()
        for k, v in model.state_dict().items()
    }
    return {
        "state_dict": state,
        "curves": curves,
        "test_acc": test_acc,
        "test_loss": test_loss,
        "n_test": len(y_te),
        "val_acc": curves["val_acc"][-1] if curves["val_acc"] else float("nan"),
        "n_parameters": count_parameters(model),
        "n_steps": stop,
        "complete": stop == n_steps,
        "steps_per_epoch": steps_per_epoch,
        "train_seconds_this_process": time.perf_counter() - start,
        "train_seconds_total": float(sum(curves["epoch_seconds"])),
        "device": str(dev),
        "data_copy": copy.copy,
        "source_test_acc": source_accuracy(cfg.name, cfg.dataset),
        "shuffled_labels": cfg.shuffle_labels,
        "train_fit_acc": fit_acc,
    }


def epoch_curves(history: list[dict[str, float]], steps_per_epoch: int) -> dict[str, list[float]]:
    """Per-epoch means of the step metrics and the end-of-epoch validation numbers."""
    curves: dict[str, list[float]] = {
        "epoch": [],
        "train_loss": [],
        "train_acc": [],
        "lr_end": [],
        "val_acc": [],
        "val_loss": [],
        "epoch_seconds": [],
    }
    for e in range(len(history) // steps_per_epoch):
        rows = history[e * steps_per_epoch : (e + 1) * steps_per_epoch]
        curves["epoch"].append(e + 1)
        curves["train_loss"].append(float(np.mean([r["loss"] for r in rows])))
        curves["train_acc"].append(100.0 * float(np.mean([r["train_correct"] for r in rows])))
        curves["lr_end"].append(rows[-1]["lr"])
        curves["val_acc"].append(rows[-1]["val_acc"])
        curves["val_loss"].append(rows[-1]["val_loss"])
        curves["epoch_seconds"].append(rows[-1]["epoch_seconds"])
    return curves


def schedule_fields(cfg: ReferenceConfig) -> dict[str, Any]:
    """The fields of a schedule that key its runs (`shuffle_labels`, `hflip`, `cutout`, `jpeg_quality` only when not
    default: old keys hold)."""
    fields = asdict(cfg)
    if not fields["cutout"]:
        del fields["cutout"]
    if not fields["shuffle_labels"]:
        del fields["shuffle_labels"]
    if fields["hflip"]:
        del fields["hflip"]
    if not fields["jpeg_quality"]:
        del fields["jpeg_quality"]
    return fields


def cache_config(cfg: ReferenceConfig) -> dict[str, Any]:
    """The configuration a stored model is keyed by: the schedule plus the data copy."""
    return {**schedule_fields(cfg), "copy": data.load(cfg.dataset, "train", transform="pil").data_copy.copy}


def stored(name: str, cfg: ReferenceConfig | None = None) -> dict[str, Any] | None:
    """The stored record of a reference network (weights, curves, provenance), or None when absent."""
    cfg = cfg or REFERENCE_CONFIGS[name]
    return load_any_precision(cfg, lambda variant: cache.load(PROFILE, f"classifier-{name}", cache_config(variant)))


def shortfalls_to_source() -> dict[str, float]:
    """Points each stored reference classifier lies below the source's test accuracy (negative: above it)."""
    return {
        name: source_accuracy(name, cfg.dataset) - float(rec["test_acc"])
        for name, cfg in REFERENCE_CONFIGS.items()
        if (rec := stored(name, cfg)) is not None
    }


def reference_model(name: str, cfg: ReferenceConfig | None = None) -> tuple[nn.Module, dict[str, Any]] | None:
    """(fp32 model in eval mode, record) of a stored reference network, or None when it was never trained."""
    record = stored(name, cfg)
    if record is None:
        return None
    model = build_model(name, 100 if (cfg or REFERENCE_CONFIGS[name]).dataset == "cifar100" else 10)
    model.load_state_dict(record["state_dict"])
    return model.eval(), record


def ensure(name: str, device: str = "cpu", progress: bool = True, cfg: ReferenceConfig | None = None) -> dict[str, Any]:
    """Return the stored record of a network, training (or resuming) and storing it first when missing.

    A schedule asking for bf16 trains at fp32 where bf16 is not accelerated (`gancnn.train.machine_precision`),
    and a run stored at either precision counts as present.
    """
    found = stored(name, cfg)
    if found is not None:
        return found
    cfg = for_machine(cfg or REFERENCE_CONFIGS[name], device)
    config = cache_config(cfg)
    copy = data.load(cfg.dataset, "train", transform="pil").data_copy
    record = cache.cached(
        PROFILE, f"classifier-{name}", config, lambda: train(cfg, device, progress), device=device, data_copy=copy
    )
    return record


def with_epochs(cfg: ReferenceConfig, epochs: int) -> ReferenceConfig:
    """The same schedule over another number of epochs."""
    return replace(cfg, epochs=epochs)


def training_throughput(
    name: str,
    precision: str,
    channels_last: bool,
    steps: int = 12,
    batch_size: int = 128,
    warmup: int = 3,
    device: str = "cpu",
) -> float:
    """Training images per second of one network on random uint8 batches (after `warmup` untimed steps)."""
    dev = training_device(device)
    cfg = ReferenceConfig(name, batch_size=batch_size, precision=precision, channels_last=channels_last)
    model = build_model(name).to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch_size, 3, 32, 32), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, 10, (batch_size,), generator=gen).to(dev)
    start = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        xb = normalize(flip_crop(x, gen, 4)).to(dev)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(dev, precision):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


@dataclass(frozen=True)
class QuickFallback:
    """How a chapter trains a network briefly when no reference weights are stored (the old quick path)."""

    n_train: int
    epochs: int
    lr: float
    n_val: int
    n_test: int


def chapter_model(
    name: str,
    profile: str,
    seed: int = 0,
    dataset: str = "cifar10",
    fallback: QuickFallback | None = None,
    reference: ReferenceConfig | None = None,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, dict[str, Any]]:
    """The network a chapter analyses: full -> source schedule; quick -> reference weights, else a short run.

    Training (full, or the quick fallback) runs on `device` (checked first); the model returned is on the CPU.
    The record always carries `origin` ("full", "reference" or "quick-fallback"), `test_acc`,
    `n_test_images`, `source_test_acc`, `_cached` and `_provenance` (whose key identifies the weights).
    """
    from gancnn.adjoint import training as ct

    device = training_device(device)
    if profile == "full":
        model, record = ct.trained_model(name, "full", cfg=ct.source_config(name, dataset, seed=seed), device=device)
        record.update(origin="full", n_test_images=ct.source_config(name, dataset).n_test)
    else:
        reference = reference or REFERENCE_CONFIGS[name]
        found = reference_model(name, reference) if (dataset, seed) == (reference.dataset, reference.seed) else None
        if found is not None:
            model, record = found
            record.update(origin="reference", n_test_images=record["n_test"], _cached=True)
        else:
            if fallback is None:
                raise FileNotFoundError(f"no reference weights for {name} on {dataset}; run `make reference`")
            model, record = ct.trained_model(
                name,
                "quick",
                n_train=fallback.n_train,
                epochs=fallback.epochs,
                lr=fallback.lr,
                n_val=fallback.n_val,
                n_test=fallback.n_test,
                seed=seed,
                dataset=dataset,
                device=device,
            )
            record.update(origin="quick-fallback", n_test_images=fallback.n_test)
    record["source_test_acc"] = source_accuracy(name, dataset)
    return model, record


def describe_origin(records: dict[Any, dict[str, Any]]) -> str | None:
    """A warning for the reader when some network is a quick fallback instead of stored reference weights."""
    fallback = [str(k) for k, r in records.items() if r["origin"] == "quick-fallback"]
    if not fallback:
        return None
    return (
        f"No stored reference weights for {', '.join(fallback)}: these networks were trained here for a "
        "few dozen steps and are near chance, so the statements below about trained networks do not "
        "apply to them. Run `make reference` to train and store the reference networks."
    )


def accuracy_table(models: dict[str, nn.Module], records: dict[str, dict[str, Any]]) -> Any:
    """A table of each analysed network: origin, size, schedule, test accuracy beside the source's, verdict."""
    import pandas as pd

    rows = []
    for name, model in models.items():
        rec = records[name]
        conf = rec["_provenance"]["config"]
        schedule = (
            f"{conf['epochs']} epochs, {conf['optimizer']}, one-cycle"
            + (f", cutout {conf['cutout']}" if conf.get("cutout") else "")
            if rec["origin"] == "reference"
            else f"{rec['n_steps']} steps"
            if rec["origin"] == "quick-fallback"
            else "source schedule"
        )
        rows.append(
            {
                "network": name,
                "weights": rec["origin"],
                "parameters": count_parameters(model),
                "schedule": schedule,
                "test images": rec["n_test_images"],
                "test accuracy %": round(float(rec["test_acc"]), 2),
                "source % (quoted)": rec["source_test_acc"],
                "verdict": record_verdict(rec),
            }
        )
    return pd.DataFrame(rows).set_index("network")


LEDGER_VERDICTS = {
    "reproduced": "reproduced",
    "reproduced (within 1 point)": "reproduced within tolerance",
    "below the source": "not reproduced",
}
SOURCE_TABLES = {"vgg7": "table 2.1", "fixup-resnet20": "table 2.1"}  # the others: table 3.1


def accuracy_claims(records: dict[str, dict[str, Any]], anchor: str = "") -> list[Any]:
    """Ledger claims: each analysed network's test accuracy against the one the source reports."""
    from gancnn.book.ledger import Claim

    claims = []
    for name, rec in records.items():
        ours = float(rec["test_acc"])
        source = float(rec["source_test_acc"])
        conf = rec["_provenance"]["config"]
        if rec["origin"] == "quick-fallback":
            verdict_, reason = "not testable here", "no stored reference network: a short fallback run is near chance"
            scale = f"{rec.get('n_steps', '?')} steps (quick fallback)"
        else:
            verdict_ = LEDGER_VERDICTS[verdict(ours, source)]
            short = ours < source
            reason = (
                "tolerance one point of accuracy"
                + (f"; {conf['epochs']} one-cycle epochs here against the source's hundreds" if short else "")
                + (f"; data: the {rec['data_copy']} copy of CIFAR-10" if rec.get("data_copy") else "")
            )
            scale = (
                f"{conf['epochs']} epochs ({conf['optimizer']}, one-cycle), {rec['n_test_images']:,} test images"
                if rec["origin"] == "reference"
                else f"source schedule, {rec['n_test_images']:,} test images"
            )
        claims.append(
            Claim(
                source="wan2022dissertation",
                section=SOURCE_TABLES.get(name, "table 3.1"),
                claim=f"{name} reaches the reported CIFAR-10 test accuracy",
                source_figure=f"{source:.1f}%",
                ours=f"{ours:.2f}%",
                scale=scale,
                verdict=verdict_,
                reason=reason,
                anchor=anchor,
            )
        )
    return claims


def curve_label(key: Any) -> str:
    """A legend label for a chapter's record key: 'name (dataset)' for a (name, dataset) pair, else the key."""
    if isinstance(key, tuple) and len(key) == 2:
        return f"{key[0]} ({key[1]})"
    return str(key)


def plot_curves(records: dict[Any, dict[str, Any]]) -> Any:
    """Validation accuracy and training loss per epoch of the reference networks among `records`."""
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(8, 3))
    for name, rec in records.items():
        if rec.get("origin") != "reference":
            continue
        curves, label = rec["curves"], curve_label(name)
        ax_acc.plot(curves["epoch"], curves["val_acc"], label=label)
        ax_loss.plot(curves["epoch"], curves["train_loss"], label=label)
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy %")
    ax_loss.set(xlabel="epoch", ylabel="training loss (smoothed labels)")
    if ax_acc.lines:
        ax_acc.legend(fontsize=8)
    else:
        ax_acc.text(0.5, 0.5, "no stored reference network", ha="center", transform=ax_acc.transAxes)
    fig.tight_layout()
    return fig


def reference_summary() -> Any:
    """One row per reference network: stored or not, schedule, accuracy beside the source's, training time."""
    import pandas as pd

    rows = []
    for name, cfg in REFERENCE_CONFIGS.items():
        rec = stored(name, cfg)
        row: dict[str, Any] = {
            "network": name,
            "epochs": cfg.epochs,
            "optimizer": cfg.optimizer,
            "peak lr": cfg.lr_max,
            "source % (quoted)": source_accuracy(name, cfg.dataset),
        }
        if rec is None:
            row.update({"stored": "no (run make reference)"})
        else:
            prov = rec["_provenance"]
            row.update(
                {
                    "stored": prov["date"][:10],
                    "device": prov["device"],
                    "data": rec["data_copy"],
                    "test accuracy %": round(float(rec["test_acc"]), 2),
                    "verdict": verdict(float(rec["test_acc"]), source_accuracy(name, cfg.dataset)),
                    "training time (min)": round(float(rec["train_seconds_total"]) / 60, 1),
                    "parameters": rec["n_parameters"],
                }
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("network")


def write_summary(extra: dict[str, Any] | None = None) -> Any:
    """Write `artifacts/reference/summary/<name>.json`: each stored network's test accuracy beside the source's
    (and the `extra` entries, e.g. the reference GANs' FIDs). One file per network, so that a reader scanning
    files that name a model finds that model's figures only."""
    import json

    from gancnn.book.paths import artifacts_dir

    summary = {}
    for name, cfg in REFERENCE_CONFIGS.items():
        rec = stored(name, cfg)
        if rec is not None:
            summary[name] = {
                "test_acc": float(rec["test_acc"]),
                "n_test": int(rec["n_test"]),
                "source_test_acc": source_accuracy(name, cfg.dataset),
                "epochs": cfg.epochs,
                "verdict": verdict(float(rec["test_acc"]), source_accuracy(name, cfg.dataset)),
                "entry": f"classifier-{name}/{rec['_provenance']['key']}",
                "data_copy": rec["data_copy"],
                "date": rec["_provenance"]["date"],
            }
    summary.update(extra or {})
    folder = artifacts_dir() / PROFILE / "summary"
    folder.mkdir(parents=True, exist_ok=True)
    for name, entry in summary.items():
        (folder / f"{name}.json").write_text(json.dumps({name: entry}, indent=1, sort_keys=True) + "\n")
    (artifacts_dir() / PROFILE / "summary.json").unlink(missing_ok=True)  # the former all-in-one file
    return folder


def jpeg_sensitivity_table() -> Any:
    """One row per quality of the JPEG-sensitivity study (None when nothing is stored): PSNR of its test images
    against the copy as loaded, the stored seeds, test accuracy (mean, lowest and highest over them), and the change
    from the copy as loaded, paired seed by seed (mean, smallest and largest over the seeds stored at both)."""
    import pandas as pd
    from skimage.metrics import peak_signal_noise_ratio

    accuracy: dict[int, dict[int, float]] = {}
    rows = []
    loaded = None
    for quality, seeds in JPEG_SENSITIVITY_SEEDS.items():
        records = {
            seed: rec
            for seed in seeds
            if (rec := stored(JPEG_SENSITIVITY_CONFIGS[quality, seed].name, JPEG_SENSITIVITY_CONFIGS[quality, seed]))
        }
        if quality:  # changes are paired seed by seed: only seeds also stored as loaded count
            records = {seed: rec for seed, rec in records.items() if seed in accuracy.get(0, {})}
        if not records:
            continue
        accuracy[quality] = {seed: float(rec["test_acc"]) for seed, rec in records.items()}
        cfg = JPEG_SENSITIVITY_CONFIGS[quality, next(iter(records))]
        loaded = cached_images(cfg.dataset, "test")[0] if loaded is None else loaded
        images = cached_images(cfg.dataset, "test", quality)[0] if quality else loaded
        copy = next(iter(records.values()))["data_copy"]
        paired = [acc - accuracy[0][seed] for seed, acc in accuracy[quality].items()]
        psnr = float(peak_signal_noise_ratio(loaded.numpy(), images.numpy(), data_range=255)) if quality else np.inf
        minutes = sum(float(r["train_seconds_total"]) for r in records.values()) / 60
        rows.append(
            {
                "images": f"saved again at JPEG quality {quality}" if quality else f"the {copy} copy as loaded",
                "PSNR vs as loaded (dB)": round(psnr, 2),
                "seeds": len(records),
                "test accuracy %": round(float(np.mean(list(accuracy[quality].values()))), 2),
                "lowest %": min(accuracy[quality].values()),
                "highest %": max(accuracy[quality].values()),
                "epochs": cfg.epochs,
                "training time, all seeds (min)": round(minutes, 1),
                "change (points)": round(float(np.mean(paired)), 2),
                "smallest change": round(min(paired), 2),
                "largest change": round(max(paired), 2),
            }
        )
    return pd.DataFrame(rows).set_index("images") if rows else None


def jpeg_sensitivity_view(table: Any) -> Any:
    """The study's table for reading: short row labels, each mean beside its range over the seeds, total minutes."""
    import pandas as pd

    def span(low: float, high: float, seeds: int, signed: bool = False) -> str:
        if seeds < 2:
            return "one seed"
        return f"{low:+.2f} to {high:+.2f}" if signed else f"{low:.2f} to {high:.2f}"

    rows = {
        label.removeprefix("the ").replace("saved again at JPEG quality ", "re-saved at q").replace(" copy ", " "): {
            "PSNR (dB)": row["PSNR vs as loaded (dB)"],
            "seeds": int(row["seeds"]),
            "accuracy % (mean)": row["test accuracy %"],
            "accuracy % (range)": span(row["lowest %"], row["highest %"], int(row["seeds"])),
            "change (mean)": row["change (points)"],
            "change (range)": "reference"
            if i == 0
            else span(row["smallest change"], row["largest change"], int(row["seeds"]), signed=True),
            "minutes": row["training time, all seeds (min)"],
        }
        for i, (label, row) in enumerate(table.iterrows())
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("images")


def _over_seeds(row: Any) -> str:
    """How a row's change spreads over its seeds, in words ("one seed" when only one is stored)."""
    if int(row["seeds"]) < 2:
        return "one seed"
    return f"{row['smallest change']:+.2f} to {row['largest change']:+.2f} over {int(row['seeds'])} seeds"


def jpeg_sensitivity_sentence(table: Any, gaps: dict[str, float]) -> str:
    """The study's finding in words: each coarser quality's accuracy change (paired seed by seed, with its spread),
    and the mildest re-encoding's cost placed against the range of the classifiers' gaps (points below the source's
    accuracy, `gaps`)."""
    if table is None or len(table) < 2:
        return "The study is not stored yet (`python -m gancnn.reference jpeg-sensitivity`)."
    base = table.iloc[0]
    parts = [
        f"{label.removeprefix('saved again at ')} ({row['PSNR vs as loaded (dB)']:.1f} dB): "
        f"{row['test accuracy %']:.2f}% ({row['change (points)']:+.2f} points; {_over_seeds(row)})"
        for label, row in table.iloc[1:].iterrows()
    ]
    seeds = int(base["seeds"])
    over = f" (mean of {seeds} seeds, from {base['lowest %']:.2f} to {base['highest %']:.2f})" if seeds > 1 else ""
    text = (
        f"On the copy as loaded, VGG7-BN reaches {base['test accuracy %']:.2f}% after {int(base['epochs'])} epochs"
        f"{over}; saved once more at {'; at '.join(parts)}."
    )
    placed = mildest_jpeg_cost(table, gaps)
    if placed is None:
        return text
    verb = "costs" if placed.cost >= 0 else "gains"
    return (
        f"{text} The mildest re-encoding ({placed.quality}) {verb} {abs(placed.cost):.2f} points{placed.spread}; "
        f"{len(placed.shortfalls)} of the {len(gaps)} reference classifiers fall short of the source's accuracy, by "
        f"{placed.shortfalls[0]:.2f} to {placed.shortfalls[-1]:.2f} points: the cost is {placed.place}."
    )


def jpeg_cost_summary(table: Any, gaps: dict[str, float]) -> str:
    """One sentence for the introduction: the mildest re-encoding's cost beside the classifiers' shortfalls
    (empty when the study or a shortfall is missing)."""
    placed = mildest_jpeg_cost(table, gaps)
    if placed is None:
        return ""
    lead = (
        f"Saving the copy's images once more at {placed.quality.removeprefix('JPEG ')} costs a VGG7-BN "
        f"{placed.cost:.2f} points of test accuracy{placed.spread}, "
    )
    if placed.place == _SMALLER:
        return lead + "less than any of these gaps."
    return lead + (
        f"comparable to these gaps ({placed.shortfalls[0]:.2f} to {placed.shortfalls[-1]:.2f} points): part of them "
        "may come from the copy's own compression rather than the training."
    )


_SMALLER = "smaller than every one of these gaps"


@dataclass(frozen=True)
class JpegCost:
    """The mildest re-encoding's accuracy cost (mean over its seeds, with their range) and where it falls among the
    classifiers' shortfalls."""

    quality: str
    cost: float
    shortfalls: list[float]
    place: str
    seeds: int = 1
    lowest: float = float("nan")
    highest: float = float("nan")

    @property
    def spread(self) -> str:
        """' (a to b over n seeds)' when more than one seed was paired, else nothing."""
        return f" ({self.lowest:.2f} to {self.highest:.2f} over {self.seeds} seeds)" if self.seeds > 1 else ""


def mildest_jpeg_cost(table: Any, gaps: dict[str, float]) -> JpegCost | None:
    """Points lost at the mildest re-encoding (negative: gained), placed against the positive gaps
    (points below the source's accuracy); None when the study or every shortfall is missing."""
    if table is None or len(table) < 2:
        return None
    below = sorted(gap for gap in gaps.values() if gap > 0)
    if not below:
        return None
    row = table.iloc[1]
    cost = -float(row["change (points)"])
    place = (
        _SMALLER if cost < below[0] else "within their range" if cost <= below[-1] else "larger than every one of them"
    )
    return JpegCost(
        str(table.index[1]).removeprefix("saved again at "),
        cost,
        below,
        place,
        seeds=int(row["seeds"]),
        lowest=-float(row["largest change"]),
        highest=-float(row["smallest change"]),
    )
