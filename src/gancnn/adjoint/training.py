"""Train the CIFAR classifiers of the AdjointBackMap chapters with the source's schedules, cached.

`trained_model(name, profile)` returns a trained network from `artifacts/<profile>/classifier-<name>/`
or trains it (with checkpoint/resume through `gancnn.train.run_loop`) and stores it there, so any
chapter can reuse the same weights. The full profile follows the source (tables 2.1, 3.1, 3.2):
plain gradient descent ("GD") on mini-batches of 100, L1 penalty 1e-4 on the kernels, 45k/5k
train/validation split, validation every two epochs keeping the best model, the source's
augmentation, piecewise-constant learning rates. The quick profile trains briefly on a subset with
momentum so that a few dozen steps already move the network away from chance.

`device` ("cpu", "cuda", "auto" or a torch.device) says where training runs; the data pipeline and its
random draws stay on the CPU, and the returned models and stored weights are always on the CPU. The device
never enters a cache key; `precision="bf16"` (autocast) does, fp32 (the source's) leaves the keys as they were.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.v2 import functional as TF

from gancnn import data
from gancnn.book import cache
from gancnn.book.params import DEVICES, resolve_device
from gancnn.book.paths import runs_dir
from gancnn.book.seed import seed_everything
from gancnn.models import count_parameters
from gancnn.models.resnet20 import FixupResNet20, ResNet20BN
from gancnn.models.vgg7 import VGG7
from gancnn.train import PRECISIONS, StepSampler, autocast, run_loop

# The source normalises with these channel means and standard deviations (section 2.5.1.1).
SOURCE_MEAN = (0.4914, 0.4822, 0.4465)
SOURCE_STD = (0.2023, 0.1994, 0.2010)
MODEL_NAMES = ("vgg7", "fixup-resnet20", "vgg7-bn", "resnet20-bn", "resnet20-fixup")
# (learning rate, epochs) intervals and the reported test accuracy, from the source's tables.
SOURCE_SCHEDULES: dict[tuple[str, str], tuple[tuple[tuple[float, int], ...], float]] = {
    ("vgg7", "cifar10"): (((2e-4, 200), (1e-4, 50), (5e-5, 51)), 85.6),
    ("fixup-resnet20", "cifar10"): (((2e-3, 100), (1e-3, 50), (5e-4, 51)), 90.3),
    ("vgg7-bn", "cifar10"): (((0.01, 300), (0.002, 100), (0.0005, 101)), 89.5),
    ("resnet20-bn", "cifar10"): (((0.01, 100), (0.001, 50), (0.0002, 51)), 91.6),
    ("resnet20-fixup", "cifar10"): (((0.002, 80), (0.001, 40), (0.0005, 31)), 91.2),
    ("vgg7-bn", "cifar100"): (((0.01, 500), (0.002, 100), (0.0005, 101)), 63.2),
    ("resnet20-bn", "cifar100"): (((0.01, 100), (0.001, 50), (0.0002, 51)), 68.8),
    ("resnet20-fixup", "cifar100"): (((0.002, 40), (0.001, 40), (0.0005, 41)), 64.0),
}


def build_model(name: str, num_classes: int = 10) -> nn.Module:
    """Instantiate one of MODEL_NAMES."""
    builders = {
        "vgg7": lambda: VGG7(num_classes),
        "fixup-resnet20": lambda: FixupResNet20(num_classes, bias=False),
        "vgg7-bn": lambda: VGG7(num_classes, batchnorm=True),
        "resnet20-bn": lambda: ResNet20BN(num_classes),
        "resnet20-fixup": lambda: FixupResNet20(num_classes, bias=True),
    }
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
    return builders[name]()


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained classifier (its cache key)."""

    name: str
    dataset: str = "cifar10"
    schedule: tuple[tuple[float, int], ...] = ((0.05, 1),)  # (learning rate, epochs) intervals
    n_train: int = 45000
    n_val: int = 5000
    n_test: int = 10000
    batch_size: int = 100
    momentum: float = 0.0
    l1: float = 1e-4
    augment: bool = True
    val_every_epochs: int = 2
    seed: int = 0
    precision: str = "fp32"  # "fp32" (the source's) | "bf16" autocast; keyed only when not fp32

    def __post_init__(self) -> None:
        """Fail at once on an unknown precision."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    def epochs(self) -> int:
        """Total number of epochs."""
        return sum(e for _, e in self.schedule)


def source_config(name: str, dataset: str = "cifar10", seed: int = 0) -> TrainConfig:
    """The source's full schedule for a model and data set."""
    if (name, dataset) not in SOURCE_SCHEDULES:
        raise ValueError(f"the source gives no schedule for {name} on {dataset}")
    schedule, _ = SOURCE_SCHEDULES[(name, dataset)]
    return TrainConfig(name=name, dataset=dataset, schedule=schedule, seed=seed)


def quick_config(
    name: str,
    n_train: int,
    epochs: int,
    lr: float,
    n_val: int = 500,
    n_test: int = 1000,
    seed: int = 0,
    dataset: str = "cifar10",
) -> TrainConfig:
    """A short run on a subset: SGD with momentum 0.9, one learning rate, no augmentation."""
    return TrainConfig(
        name=name,
        dataset=dataset,
        schedule=((lr, epochs),),
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        momentum=0.9,
        augment=False,
        val_every_epochs=1,
        seed=seed,
    )


def training_device(device: str | torch.device) -> torch.device:
    """The torch.device to train on; a one-line ParameterError when CUDA is asked for and torch sees none."""
    text = str(device)
    if text in DEVICES:
        return resolve_device(text)
    dev = torch.device(text)
    resolve_device(dev.type)  # "cuda:1" without CUDA is refused like "cuda"; other device types are refused
    return dev


def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    """Map uint8 images to the source's normalised float input."""
    mean = torch.tensor(SOURCE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(SOURCE_STD).view(1, 3, 1, 1)
    return (x_uint8.float() / 255.0 - mean) / std


def augment(x_uint8: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Source augmentation per image: flip, saturation [0,2], contrast [0.4,1.6], brightness +-0.5, 36->32 crop."""
    out = []
    for img in x_uint8:
        u = torch.rand(6, generator=gen).tolist()
        img = img.float() / 255.0
        if u[0] < 0.5:
            img = TF.horizontal_flip(img)
        img = TF.adjust_saturation(img, 2.0 * u[1])
        img = TF.adjust_contrast(img, 0.4 + 1.2 * u[2])
        img = (img + (u[3] - 0.5)).clamp(0, 1)  # TensorFlow's random_brightness(max_delta=0.5) is additive
        img = TF.resize(img, [36, 36], antialias=True)
        i, j = int(u[4] * 5), int(u[5] * 5)
        out.append(img[:, i : i + 32, j : j + 32])
    x = torch.stack(out)
    mean = torch.tensor(SOURCE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(SOURCE_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def accuracy(model: nn.Module, x_uint8: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy (%) in eval mode, on the device of the model's parameters."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct = 0
    for i in range(0, len(y), batch_size):
        logits = model(normalize(x_uint8[i : i + batch_size]).to(dev))
        correct += int((logits.argmax(1).cpu() == y[i : i + batch_size]).sum())
    model.train(was_training)
    return 100.0 * correct / len(y)


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of absolute values of every conv kernel and FC weight."""
    return sum(m.weight.abs().sum() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


@dataclass
class BestKeeper:
    """The best validation accuracy so far and the weights that reached it (checkpointed with the run)."""

    best_acc: float = -1.0
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)

    def update(self, acc: float, model: nn.Module) -> None:
        """Keep the model if it beats the best validation accuracy."""
        if acc > self.best_acc:
            self.best_acc = acc
            self.best_state = copy.deepcopy(model.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """State for checkpoints."""
        return {"best_acc": self.best_acc, "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint."""
        self.best_acc, self.best_state = state["best_acc"], state["best_state"]


def split_indices(cfg: TrainConfig, n_available: int) -> tuple[np.ndarray, np.ndarray]:
    """Random disjoint train/validation indices into the training split (the source's 9:1 split)."""
    if cfg.n_train + cfg.n_val > n_available:
        raise ValueError(f"n_train + n_val = {cfg.n_train + cfg.n_val} exceeds the {n_available} training images")
    perm = np.random.default_rng([cfg.seed, 45]).permutation(n_available)
    return np.sort(perm[: cfg.n_train]), np.sort(perm[cfg.n_train : cfg.n_train + cfg.n_val])


def test_set(dataset: str, n_test: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """The first n_test images of a random permutation of the test split (all of them when n_test >= size)."""
    ds = data.load(dataset, "test", transform="pil")
    idx = data.select(ds, limit=n_test, seed=seed) if n_test < len(ds) else np.arange(len(ds))
    x, y = data.to_tensors(ds, idx)
    return x, y, ds.data_copy


def key_fields(cfg: TrainConfig) -> dict[str, Any]:
    """The fields of a configuration that key its runs (`precision` only when not fp32: old keys hold)."""
    fields = asdict(cfg)
    if fields["precision"] == "fp32":
        del fields["precision"]
    return fields


def train(cfg: TrainConfig, progress: bool = True, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train per `cfg` on `device` (resuming from its checkpoint); return CPU weights, history, accuracies."""
    dev = training_device(device)
    seed_everything(cfg.seed)
    ds = data.load(cfg.dataset, "train", transform="pil")
    tr_idx, va_idx = split_indices(cfg, len(ds))
    x_tr, y_tr = data.to_tensors(ds, tr_idx)
    x_va, y_va = data.to_tensors(ds, va_idx)
    model = build_model(cfg.name, len(ds.classes)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.schedule[0][0], momentum=cfg.momentum)
    sampler = StepSampler(cfg.n_train, cfg.batch_size, seed=cfg.seed)
    steps_per_epoch = sampler.steps_per_epoch
    n_steps = steps_per_epoch * cfg.epochs()
    boundaries = np.cumsum([e for _, e in cfg.schedule])
    keeper = BestKeeper()
    gen = torch.Generator().manual_seed(cfg.seed)

    def step(i: int) -> dict[str, float]:
        """One mini-batch of gradient descent; validation at the end of every val_every_epochs epochs."""
        epoch = i // steps_per_epoch
        lr = cfg.schedule[int(np.searchsorted(boundaries, epoch, side="right"))][0]
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.as_tensor(sampler.indices(i))
        xb = (augment(x_tr[idx], gen) if cfg.augment else normalize(x_tr[idx])).to(dev)
        model.train()
        with autocast(dev, cfg.precision):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), y_tr[idx].to(dev))
        total = loss + cfg.l1 * l1_penalty(model) if cfg.l1 > 0 else loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        out = {"loss": float(loss.detach()), "lr": lr}
        last = (i + 1) == n_steps
        if (i + 1) % (steps_per_epoch * cfg.val_every_epochs) == 0 or last:
            out["val_acc"] = accuracy(model, x_va, y_va)
            keeper.update(out["val_acc"], model)
        return out

    ckpt = runs_dir() / "checkpoints" / f"classifier-{cfg.name}-{cache.config_key(key_fields(cfg))}.pt"
    start = time.perf_counter()
    history = run_loop(
        step,
        n_steps,
        {"model": model, "opt": opt, "best": keeper, "gen": _GenState(gen)},
        checkpoint=ckpt,
        every=max(1, steps_per_epoch),
        desc=f"train {cfg.name}",
        progress=progress,
    )
    model.load_state_dict(keeper.best_state)
    x_te, y_te, _ = test_set(cfg.dataset, cfg.n_test, cfg.seed)
    return {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history,
        "val_acc": keeper.best_acc,
        "test_acc": accuracy(model, x_te, y_te),
        "n_steps": n_steps,
        "n_parameters": count_parameters(model),
        "train_seconds": time.perf_counter() - start,
    }


class _GenState:
    """Adapter giving a torch.Generator the state_dict/load_state_dict interface of run_loop."""

    def __init__(self, gen: torch.Generator) -> None:
        """Wrap the generator."""
        self.gen = gen

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator state."""
        return {"state": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the generator state."""
        self.gen.set_state(state["state"])


def cache_config(cfg: TrainConfig) -> dict[str, Any]:
    """The cache key of a trained classifier: its configuration plus the data copy it was trained on."""
    return {**key_fields(cfg), "copy": data.load(cfg.dataset, "train", transform="pil").data_copy.copy}


def stored_full(name: str, dataset: str = "cifar10", seed: int = 0) -> dict[str, Any] | None:
    """The stored full-profile (source-schedule) record of a classifier, or None when it was never trained."""
    return cache.load("full", f"classifier-{name}", cache_config(source_config(name, dataset, seed=seed)))


def trained_model(
    name: str, profile: str, cfg: TrainConfig | None = None, device: str | torch.device = "cpu", **quick: Any
) -> tuple[nn.Module, dict]:
    """Return (CPU model in eval mode, result record) from the cache, training it on `device` first when absent.

    `cfg` defaults to the source schedule on the full profile and to `quick_config(name, **quick)` on quick.
    The device is checked first (CUDA asked for but absent: ParameterError) and only recorded in the provenance.
    """
    dev = training_device(device)
    if cfg is None:
        cfg = source_config(name) if profile == "full" else quick_config(name, **quick)
    if cfg.name != name:
        cfg = replace(cfg, name=name)
    copy_info = data.load(cfg.dataset, "train", transform="pil").data_copy
    record = cache.cached(
        profile,
        f"classifier-{name}",
        cache_config(cfg),
        lambda: train(cfg, device=dev),
        device=dev,
        data_copy=copy_info,
    )
    model = build_model(name, 100 if cfg.dataset == "cifar100" else 10)
    model.load_state_dict(record["state_dict"])
    return model.eval(), record
