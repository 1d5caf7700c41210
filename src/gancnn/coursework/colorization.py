"""Colourization as per-pixel classification (CSC413 coursework): data, colour clusters, training, evaluation.

A grey image (mean of the RGB channels, in [0, 1]) goes in; each pixel is classified into one of
K colour clusters found by k-means (scikit-learn) on RGB pixels of the training images. The loss is
the per-pixel cross-entropy; the accuracy is the fraction of pixels given their nearest cluster.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from torch import nn

from gancnn import data
from gancnn.book import cache
from gancnn.book.paths import runs_dir
from gancnn.book.seed import seed_everything
from gancnn.models import colorization_nets
from gancnn.train import StepSampler, run_loop


@dataclass
class ColourData:
    """Grey inputs, cluster targets and RGB images of one class, plus the colour centres and provenance."""

    grey_train: torch.Tensor  # (N, 1, H, W) float in [0, 1]
    target_train: torch.Tensor  # (N, H, W) long cluster indices
    grey_val: torch.Tensor
    target_val: torch.Tensor
    rgb_val: torch.Tensor  # (M, 3, H, W) float in [0, 1]
    centres: torch.Tensor  # (K, 3) float in [0, 1]
    data_copy: data.DataCopy


def load_class(
    split: str, class_name: str = "horse", limit: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, data.DataCopy]:
    """RGB images of one CIFAR-10 class as floats in [0, 1], shape (N, 3, 32, 32), with the copy used."""
    ds = data.load("cifar10", split, transform="pil")
    if class_name not in ds.classes:
        raise data.DataError(f"unknown CIFAR-10 class {class_name!r}; classes: {ds.classes}")
    idx = data.select(ds, classes=[ds.classes.index(class_name)], limit=limit, seed=seed)
    images, _ = data.to_tensors(ds, idx)
    return images.float() / 255.0, ds.data_copy


def to_grey(rgb: torch.Tensor) -> torch.Tensor:
    """Grey image as the mean of the three channels: (N, 3, H, W) -> (N, 1, H, W)."""
    return rgb.mean(dim=1, keepdim=True)


def fit_colour_centres(rgb: torch.Tensor, n_clusters: int = 24, n_pixels: int = 20000, seed: int = 0) -> torch.Tensor:
    """k-means (scikit-learn) on a random sample of RGB pixels; centres sorted by brightness, shape (K, 3)."""
    pixels = rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    if n_pixels < n_clusters:
        raise ValueError(f"need at least {n_clusters} pixels for {n_clusters} clusters, got {n_pixels}")
    rng = np.random.default_rng(seed)
    sample = pixels[rng.choice(len(pixels), size=min(n_pixels, len(pixels)), replace=False)]
    km = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit(sample.astype(np.float64))
    centres = km.cluster_centers_[np.argsort(km.cluster_centers_.sum(axis=1))]
    return torch.as_tensor(centres, dtype=torch.float32)


def nearest_centre(rgb: torch.Tensor, centres: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Index of the closest colour centre (Euclidean in RGB) for every pixel: (N, 3, H, W) -> (N, H, W)."""
    out = []
    for part in rgb.split(chunk):
        pixels = part.permute(0, 2, 3, 1).reshape(-1, 3)
        out.append(torch.cdist(pixels, centres).argmin(dim=1).reshape(part.shape[0], *part.shape[2:]))
    return torch.cat(out)


def centres_to_image(labels: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Paint cluster indices (N, H, W) with their centre colours: (N, 3, H, W)."""
    return centres[labels].permute(0, 3, 1, 2)


def prepare(
    class_name: str = "horse",
    n_train: int | None = None,
    n_val: int | None = None,
    n_clusters: int = 24,
    kmeans_pixels: int = 20000,
    seed: int = 0,
) -> ColourData:
    """Load train/test images of a class, fit the colour centres on the training pixels, build inputs and targets."""
    rgb_train, copy = load_class("train", class_name, n_train, seed)
    rgb_val, _ = load_class("test", class_name, n_val, seed)
    centres = fit_colour_centres(rgb_train, n_clusters, kmeans_pixels, seed)
    return ColourData(
        to_grey(rgb_train),
        nearest_centre(rgb_train, centres),
        to_grey(rgb_val),
        nearest_centre(rgb_val, centres),
        rgb_val,
        centres,
        copy,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    grey: torch.Tensor,
    target: torch.Tensor,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> tuple[float, float]:
    """Mean per-pixel cross-entropy and pixel accuracy of a model on a data set (eval mode)."""
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for x, y in zip(grey.split(batch_size), target.split(batch_size)):
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(dim=1) == y).sum())
        count += y.numel()
    model.train(was_training)
    return total_loss / count, correct / count


@torch.no_grad()
def colourize(
    model: nn.Module, grey: torch.Tensor, centres: torch.Tensor, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """RGB prediction: each pixel painted with the centre of its most likely cluster."""
    model.eval()
    labels = model(grey.to(device)).argmax(dim=1).cpu()
    return centres_to_image(labels, centres)


def train(
    model: nn.Module,
    cd: ColourData,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "colourization",
) -> list[dict[str, float]]:
    """Train with Adam and per-pixel cross-entropy via `run_loop`; return one record per epoch.

    Each record holds the epoch, the mean training loss over its batches, and the validation loss and
    pixel accuracy measured at its end.
    """
    model.to(device).train()
    sampler = StepSampler(len(cd.grey_train), batch_size, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    per_epoch = sampler.steps_per_epoch

    def step(i: int) -> dict[str, float]:
        """One Adam step on one batch; validation at the end of each epoch."""
        idx = torch.as_tensor(sampler.indices(i))
        x, y = cd.grey_train[idx].to(device), cd.target_train[idx].to(device)
        opt.zero_grad()
        batch_loss = F.cross_entropy(model(x), y)
        batch_loss.backward()
        opt.step()
        metrics = {"train_loss": float(batch_loss.detach())}
        if (i + 1) % per_epoch == 0:
            metrics["val_loss"], metrics["val_acc"] = evaluate(model, cd.grey_val, cd.target_val, device=device)
            metrics["epoch"] = (i + 1) // per_epoch
        return metrics

    history = run_loop(
        step,
        epochs * per_epoch,
        {"model": model, "optimizer": opt},
        checkpoint=checkpoint,
        every=per_epoch,
        desc=desc,
        progress=progress,
    )
    return epoch_records(history, per_epoch)


def epoch_records(history: list[dict[str, float]], steps_per_epoch: int) -> list[dict[str, float]]:
    """Collapse a step history into per-epoch records (mean training loss, validation metrics)."""
    records = []
    for end in range(steps_per_epoch, len(history) + 1, steps_per_epoch):
        window = history[end - steps_per_epoch : end]
        last = window[-1]
        records.append(
            {
                "epoch": last["epoch"],
                "train_loss": float(np.mean([h["train_loss"] for h in window])),
                "val_loss": last["val_loss"],
                "val_acc": last["val_acc"],
            }
        )
    return records


def chance_levels(cd: ColourData) -> dict[str, Any]:
    """Baselines: accuracy of always predicting the most frequent training cluster, and the class entropy (nats)."""
    counts = torch.bincount(cd.target_train.flatten(), minlength=len(cd.centres)).double()
    p = counts / counts.sum()
    majority = int(p.argmax())
    return {
        "majority_acc": float((cd.target_val == majority).double().mean()),
        "entropy_nats": float(-(p[p > 0] * p[p > 0].log()).sum()),
        "uniform_loss": math.log(len(cd.centres)),
    }


RUN_KEYS = (
    "seed",
    "colour_class",
    "n_train",
    "n_val",
    "n_clusters",
    "kmeans_pixels",
    "epochs",
    "batch_size",
    "colour_lr",
    "kernel",
    "num_filters",
)


def run_config(arch: str, p: Mapping[str, Any], data_copy: str) -> dict[str, Any]:
    """The configuration that identifies one colourisation run (its cache and checkpoint key)."""
    return {"architecture": arch, **{k: p[k] for k in RUN_KEYS}, "copy": data_copy}


def build_network(arch: str, p: Mapping[str, Any]) -> nn.Module:
    """A fresh network of one architecture with the run's kernel, width and palette size."""
    return colorization_nets.build(arch, kernel=p["kernel"], num_filters=p["num_filters"], num_colours=p["n_clusters"])


def train_run(arch: str, p: Mapping[str, Any], cd: ColourData, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train one network from the seed (resumable); return its per-epoch curves and final weights."""
    seed_everything(p["seed"])
    model = build_network(arch, p)
    key = cache.config_key(run_config(arch, p, cd.data_copy.copy))
    records = train(
        model,
        cd,
        p["epochs"],
        p["batch_size"],
        p["colour_lr"],
        p["seed"],
        checkpoint=runs_dir() / "checkpoints" / f"colourization-{key}.pt",
        device=device,
        desc=arch,
    )
    return {
        "epoch": [r["epoch"] for r in records],
        "train_loss": [r["train_loss"] for r in records],
        "val_loss": [r["val_loss"] for r in records],
        "val_acc": [r["val_acc"] for r in records],
        "state": {k: v.cpu() for k, v in model.state_dict().items()},
    }


def trained_network(arch: str, p: Mapping[str, Any], result: Mapping[str, Any]) -> nn.Module:
    """Rebuild a trained network from a stored run."""
    model = build_network(arch, p)
    model.load_state_dict(result["state"])
    return model.eval()
