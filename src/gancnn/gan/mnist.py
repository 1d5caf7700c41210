"""Training the MNIST GAN (with the book's `GANTrainer`) and the MNIST CNN, resumable, results in the artifact cache.

Both models see images scaled to [-1, 1] (the GAN's Tanh range), so CNN features of real and of
generated digits are computed on the same scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from gancnn import data
from gancnn.book import cache
from gancnn.book.paths import runs_dir
from gancnn.book.seed import seed_everything
from gancnn.gan import training as gan
from gancnn.models.mnist_cnn import MnistCNN
from gancnn.models.mnist_gan import Discriminator, Generator
from gancnn.train import StepSampler, run_loop


def mnist_tensors(split: str) -> tuple[torch.Tensor, torch.Tensor, data.DataCopy]:
    """All MNIST images of a split as float (N, 1, 28, 28) in [-1, 1], labels, and the data copy."""
    ds = data.load("mnist", split)
    x, y = data.to_tensors(ds)
    return x.float() / 127.5 - 1, y, ds.data_copy


def _cnn_compute(cfg: dict[str, Any]) -> dict[str, Any]:
    """Train the CNN with Adam on the first n_train training images; report test accuracy."""
    torch.manual_seed(cfg["seed"])
    x, y, _ = mnist_tensors("train")
    x, y = x[: cfg["n_train"]], y[: cfg["n_train"]]
    model = MnistCNN()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    sampler = StepSampler(len(x), cfg["batch_size"], seed=cfg["seed"])
    n_steps = cfg["epochs"] * sampler.steps_per_epoch

    def step(i: int) -> dict[str, float]:
        """One Adam step on a mini-batch."""
        idx = torch.as_tensor(sampler.indices(i))
        model.train()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    ckpt = runs_dir() / "checkpoints" / f"mnist-cnn-{cache.config_key(cfg)}.pt"
    history = run_loop(step, n_steps, {"model": model, "opt": opt}, checkpoint=ckpt, every=200, desc="MNIST CNN")
    acc = cnn_accuracy(model, *mnist_tensors("test")[:2])
    return {
        "state": model.state_dict(),
        "test_accuracy": acc,
        "loss": np.array([h["loss"] for h in history]),
        "n_steps": n_steps,
    }


@torch.no_grad()
def cnn_accuracy(model: MnistCNN, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    """Fraction of correctly classified images."""
    model.eval()
    correct = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return correct / len(x)


def train_cnn(
    profile: str, seed: int, n_train: int, epochs: int, batch_size: int = 64, lr: float = 1e-3
) -> tuple[MnistCNN, dict[str, Any]]:
    """Train (or load from the cache) the MNIST CNN; return the model in eval mode and the result."""
    cfg = {"seed": seed, "n_train": n_train, "epochs": epochs, "batch_size": batch_size, "lr": lr}
    copy = data.load("mnist", "train").data_copy
    result = cache.cached(profile, "mnist-cnn", cfg, lambda: _cnn_compute(cfg), data_copy=copy)
    model = MnistCNN()
    model.load_state_dict(result["state"])
    return model.eval(), result


def _gan_compute(cfg: dict[str, Any], keep_discriminator: bool = True) -> dict[str, Any]:
    """Train the GAN with the book's GANTrainer (non-saturating loss, Adam); keep fixed-noise grids over training.

    Without `keep_discriminator` only the generator's weights are returned (what the analyses use)."""
    seed_everything(cfg["seed"])
    ds = data.load("mnist", "train")
    x, y = data.to_tensors(ds, np.arange(cfg["n_train"]))
    gen, disc = Generator(), Discriminator()
    setup = gan.GANSetup(
        loss="nonsaturating",
        nz=gen.noise_dim,
        n_classes=0,
        batch_size=cfg["batch_size"],
        lr_g=cfg["lr"],
        lr_d=cfg["lr"],
        beta1=0.5,
        beta2=0.999,
    )
    trainer = gan.GANTrainer(gen, disc, x, y, setup, seed=cfg["seed"])
    n_steps = cfg["epochs"] * trainer.sampler.steps_per_epoch
    snapshot_every = max(-(-n_steps // cfg["n_snapshots"]), 1)
    ckpt = runs_dir() / "checkpoints" / f"mnist-gan-{cache.config_key(cfg)}.pt"
    history = trainer.train(n_steps, checkpoint=ckpt, every=500, snapshot_every=snapshot_every, desc="MNIST GAN")
    steps = sorted(trainer.snapshots.images)
    weights = {"gen": gen.state_dict(), **({"disc": disc.state_dict()} if keep_discriminator else {})}
    return {
        **weights,
        "snapshots": torch.stack([trainer.snapshots.images[s][: cfg["n_grid"]] for s in steps]),
        "snapshot_steps": steps,
        "d_loss": np.array([h["d_loss"] for h in history], dtype=np.float32),
        "g_loss": np.array([h["g_loss"] for h in history], dtype=np.float32),
        "n_steps": n_steps,
        "step_seconds_total": float(
            sum(cfg["batch_size"] / h["d_img_per_s"] + cfg["batch_size"] / h["g_img_per_s"] for h in history)
        ),
    }


def train_gan(
    profile: str,
    seed: int,
    n_train: int,
    epochs: int,
    batch_size: int = 64,
    lr: float = 2e-4,
    n_grid: int = 32,
    n_snapshots: int = 5,
    keep_discriminator: bool = True,
) -> tuple[Generator, dict[str, Any]]:
    """Train (or load from the cache) the MNIST GAN; return the generator in eval mode and the result."""
    cfg = {
        "seed": seed,
        "n_train": n_train,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "n_grid": n_grid,
        "n_snapshots": n_snapshots,
    }
    copy = data.load("mnist", "train").data_copy
    result = cache.cached(profile, "mnist-gan", cfg, lambda: _gan_compute(cfg, keep_discriminator), data_copy=copy)
    gen = Generator()
    gen.load_state_dict(result["gen"])
    return gen.eval(), result


@torch.no_grad()
def cnn_features(model: MnistCNN, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """CNN representations (N, 9216) and nothing else, in eval mode."""
    model.eval()
    return torch.cat([model.features(images[i : i + batch]) for i in range(0, len(images), batch)])


@torch.no_grad()
def class_pools(
    gen: Generator,
    cnn: MnistCNN,
    classes: list[int] | int,
    per_class: int,
    z_sampler: Any,
    gen_seed: int,
    batch: int = 1000,
    max_batches: int = 40,
) -> tuple[list[int], list[torch.Tensor], list[torch.Tensor]]:
    """Generate until each class (as the CNN labels the images) has per_class; return classes, features, images.

    `classes` is a list of digits, or a number k: the k digits most frequent in the first batch (sorted).
    """
    g = torch.Generator().manual_seed(gen_seed)
    gen.eval()
    cnn.eval()
    feats: dict[int, list[torch.Tensor]] = {}
    imgs: dict[int, list[torch.Tensor]] = {}
    counts: dict[int, int] = {}
    for _ in range(max_batches):
        x = gen(z_sampler(batch, gen.noise_dim, g).float())
        f = cnn.features(x)
        label = cnn.fc2(F.relu(cnn.fc1(f))).argmax(1)
        if not counts:
            if isinstance(classes, int):
                classes = sorted(int(c) for c in label.bincount(minlength=10).argsort(descending=True)[:classes])
            feats, imgs, counts = {c: [] for c in classes}, {c: [] for c in classes}, dict.fromkeys(classes, 0)
        for c in counts:
            take = (label == c).nonzero().squeeze(1)[: per_class - counts[c]]
            feats[c].append(f[take])
            imgs[c].append(x[take])
            counts[c] += len(take)
        if all(v >= per_class for v in counts.values()):
            return list(counts), [torch.cat(feats[c]) for c in counts], [torch.cat(imgs[c]) for c in counts]
    raise RuntimeError(
        f"after {max_batches * batch} samples the generator gave only {counts} images per class "
        f"(wanted {per_class}); train longer or choose other classes"
    )
