"""The one place that knows where data lives: MNIST, CIFAR-10 and CIFAR-100 with their provenance.

The data root is `GANCNN_DATA` (default `data/`, relative paths taken from the project root).
An original copy (torchvision's layout) is preferred; CIFAR-10 falls back to the lossy JPEG copy
in ImageFolder layout (`cifar10-jpeg/{train,test}/<class>/*.jpg`); with downloads allowed
(`GANCNN_DOWNLOAD=1`, the default) torchvision fetches the original. Every data set returned
carries a `data_copy` attribute saying which copy it is, with the checksum it was verified against
(`gancnn.manifest`: image counts per class and SHA-256 of the offline copies; `GANCNN_DATA_MANIFEST=off`
accepts a copy that differs on purpose, recorded as unverified). A verified copy's name (`original`,
`jpeg-q75`) stands for its manifest checksum in every cache key; an unverified one is named
`<copy>+unverified-<fingerprint>` (its files' names, sizes and modification times), so results computed on
changed data never share a key with results of the verified copy, nor with those of another changed copy.
Downloads time out after
`GANCNN_DOWNLOAD_TIMEOUT` seconds without data (default 60); `download_deadline` gives other downloads
(the ImageNet weights of `gancnn.models.resnet50_imagenet`) the same timeout.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import datasets, transforms

from gancnn import manifest
from gancnn.book.paths import resolve

NAMES = ("mnist", "cifar10", "cifar100")
SPLITS = ("train", "test")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEAN_STD = {
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
TRANSFORMS = ("tensor", "normalize", "gan", "pil")


class DataError(RuntimeError):
    """A data set is missing, unknown or asked for in a way that cannot be served."""


@dataclass(frozen=True)
class DataCopy:
    """Which copy of a data set a result was computed on."""

    dataset: str
    copy: str  # "original" | "jpeg-q75"
    description: str
    path: str  # location inside the data root (machine-independent, safe to commit in provenance)
    sha256: str = ""  # the content checksum the copy matched (gancnn.manifest); "" when not verified

    def as_dict(self) -> dict[str, str]:
        """Return a JSON-friendly dict for provenance records."""
        return asdict(self)


def data_root() -> Path:
    """Return the data root from GANCNN_DATA (default `data/` in the project root)."""
    return resolve(os.environ.get("GANCNN_DATA", "data"))


def downloads_allowed() -> bool:
    """Return True unless GANCNN_DOWNLOAD is set to 0/false/no."""
    return os.environ.get("GANCNN_DOWNLOAD", "1").strip().lower() not in ("0", "false", "no", "")


def manifest_checks() -> bool:
    """Return False when GANCNN_DATA_MANIFEST is off/0/false/no (accept copies that differ from the manifest)."""
    return os.environ.get("GANCNN_DATA_MANIFEST", "strict").strip().lower() not in ("off", "0", "false", "no")


def download_timeout() -> float:
    """Seconds a download may wait for data (GANCNN_DOWNLOAD_TIMEOUT, default 60)."""
    text = os.environ.get("GANCNN_DOWNLOAD_TIMEOUT", "60")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise DataError(f"GANCNN_DOWNLOAD_TIMEOUT must be a positive number of seconds, got {text!r}")
    return value


@contextlib.contextmanager
def download_deadline() -> Iterator[float]:
    """Within the block, sockets (urllib, torch.hub) give up after download_timeout() seconds without data."""
    seconds = download_timeout()
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)  # urllib waits forever without one
    try:
        yield seconds
    finally:
        socket.setdefaulttimeout(previous)


def _verified(check: Callable[[], str]) -> str:
    """Run a manifest check (when enabled) and turn its failure into a DataError."""
    if not manifest_checks():
        return ""
    try:
        return check()
    except manifest.ManifestError as exc:
        raise DataError(f"{exc}; replace the copy, or set GANCNN_DATA_MANIFEST=off to use it anyway") from exc


def _unverified(copy: DataCopy, files: list[Path], folder: Path) -> DataCopy:
    """The copy renamed by its files' fingerprint when the manifest was not checked (its own cache keys)."""
    if manifest_checks():
        return copy
    fingerprint = manifest.signature(files, relative_to=folder)[:12]
    return replace(
        copy,
        copy=f"{copy.copy}+unverified-{fingerprint}",
        description=f"{copy.description}, not checked against the manifest",
    )


def make_transform(name: str, spec: str | Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """Turn a transform name ('tensor', 'normalize', 'gan', 'pil') or a callable into a transform."""
    if spec is None or callable(spec):
        return spec
    if spec == "pil":
        return None
    if spec == "tensor":
        return transforms.ToTensor()
    if spec == "normalize":
        mean, std = MEAN_STD[name]
        return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    if spec == "gan":
        channels = len(MEAN_STD[name][0])
        return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.5,) * channels)])
    raise DataError(f"unknown transform {spec!r}; use one of {TRANSFORMS} or a callable")


def _check(name: str, split: str) -> None:
    """Fail on unknown data set names or splits."""
    if name not in NAMES:
        raise DataError(f"unknown data set {name!r}; available: {NAMES}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {SPLITS}")


def _missing(name: str, root: Path, tried: Sequence[str], reason: str = "") -> DataError:
    """Build the one clear error for a data set that is not in the root."""
    extra = f" ({reason})" if reason else ""
    return DataError(
        f"{name} not found under the data root {root}{extra}. Looked for: {', '.join(tried)}. "
        "Fix: set GANCNN_DATA to a folder holding it (offline copies: GANCNN_DATA=../shared/data), "
        "or allow downloads (GANCNN_DOWNLOAD=1) on a machine with a network."
    )


def _torchvision(name: str, root: Path, train: bool, transform: Any, download: bool) -> torch.utils.data.Dataset:
    """Open torchvision's original copy (downloading it when asked)."""
    cls = {"mnist": datasets.MNIST, "cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    if not download:
        return cls(root=str(root), train=train, transform=transform, download=False)
    with download_deadline():  # torchvision's downloader is urllib
        return cls(root=str(root), train=train, transform=transform, download=True)


def load(
    name: str,
    split: str = "train",
    transform: str | Callable[[Any], Any] | None = "tensor",
    download: bool | None = None,
) -> torch.utils.data.Dataset:
    """Return a torchvision data set for name/split, preferring the original copy; see module doc."""
    _check(name, split)
    tf = make_transform(name, transform)
    root = data_root()
    train = split == "train"
    original = {"mnist": "MNIST/raw (idx files)", "cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
    tried = [str(root / original[name].split(" ")[0])]
    digest = ""
    if name == "mnist" and (root / "MNIST" / "raw").is_dir():
        digest = _verified(lambda: manifest.verify_mnist_raw(root / "MNIST" / "raw"))
    try:
        ds = _torchvision(name, root, train, tf, download=False)
        desc = {
            "mnist": "original MNIST idx files",
            "cifar10": "original CIFAR-10 (python pickles)",
            "cifar100": "original CIFAR-100 (python pickles)",
        }[name]
        ds.data_copy = DataCopy(name, "original", desc, original[name].split(" ")[0], digest)
        if name == "mnist" and (root / "MNIST" / "raw").is_dir():
            raw = root / "MNIST" / "raw"
            ds.data_copy = _unverified(ds.data_copy, manifest.mnist_files(raw), raw)
        return ds
    except RuntimeError:
        pass
    if name == "cifar10":
        folder = root / "cifar10-jpeg" / split
        tried.append(str(folder))
        if folder.is_dir():
            ds = datasets.ImageFolder(str(folder), transform=tf)
            if tuple(ds.classes) != CIFAR10_CLASSES:
                raise DataError(f"{folder} has classes {ds.classes}, expected the CIFAR-10 classes {CIFAR10_CLASSES}")
            digest = _verified(lambda: manifest.verify_image_folder(folder, f"cifar10-jpeg/{split}", CIFAR10_CLASSES))
            ds.data_copy = DataCopy(
                name, "jpeg-q75", "CIFAR-10 lossy JPEG copy (libjpeg quality 75)", f"cifar10-jpeg/{split}", digest
            )
            ds.data_copy = _unverified(ds.data_copy, manifest.image_files(folder), folder)
            return ds
    if download if download is not None else downloads_allowed():
        try:
            ds = _torchvision(name, root, train, tf, download=True)
        except Exception as exc:  # network errors come in many types
            raise _missing(name, root, tried, f"download failed: {type(exc).__name__}: {exc}") from exc
        ds.data_copy = DataCopy(
            name, "original", f"original {name} downloaded by torchvision", original[name].split(" ")[0]
        )
        return ds
    raise _missing(name, root, tried, "downloads are disabled")


def class_names(ds: torch.utils.data.Dataset) -> list[str]:
    """Return the class names of a data set returned by `load`."""
    return list(ds.classes)


def targets(ds: torch.utils.data.Dataset) -> np.ndarray:
    """Return all labels of a data set returned by `load` without decoding images."""
    return np.asarray(ds.targets, dtype=np.int64)


def select(
    ds: torch.utils.data.Dataset,
    classes: Sequence[int] | None = None,
    per_class: int | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Pick indices: optionally only some classes, at most `per_class` of each, at most `limit` overall."""
    y = targets(ds)
    n_classes = len(ds.classes)
    chosen_classes = range(n_classes) if classes is None else classes
    for c in chosen_classes:
        if not 0 <= c < n_classes:
            raise DataError(f"class index {c} out of range 0..{n_classes - 1}")
    rng = np.random.default_rng(seed)
    parts = []
    for c in chosen_classes:
        idx = np.flatnonzero(y == c)
        if per_class is not None:
            if per_class > len(idx):
                raise DataError(f"asked for {per_class} images of class {c}, only {len(idx)} exist")
            idx = np.sort(rng.choice(idx, size=per_class, replace=False))
        parts.append(idx)
    out = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    if limit is not None:
        out = np.sort(rng.choice(out, size=min(limit, len(out)), replace=False))
    return out


def _raw_image(ds: torch.utils.data.Dataset, i: int) -> np.ndarray:
    """Return image i as uint8 HxWxC without the data set's transform."""
    if isinstance(ds, datasets.ImageFolder):
        with Image.open(ds.samples[i][0]) as im:
            return np.asarray(im.convert("RGB"))
    arr = ds.data[i]
    arr = arr.numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr)
    return arr[..., None] if arr.ndim == 2 else arr


def to_tensors(ds: torch.utils.data.Dataset, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode chosen images into one uint8 tensor (N, C, H, W) and their labels (N,), without transforms."""
    idx = np.arange(len(ds)) if indices is None else np.asarray(indices, dtype=np.int64)
    y = torch.as_tensor(targets(ds)[idx])
    if len(idx) == 0:
        raise DataError("no images selected")
    if isinstance(getattr(ds, "data", None), torch.Tensor):  # MNIST: one gather instead of a per-image loop
        images = ds.data[torch.from_numpy(idx)].numpy()
        images = images[..., None] if images.ndim == 3 else images
    else:
        images = np.stack([_raw_image(ds, int(i)) for i in idx])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), y


def reencode_jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    """Each uint8 RGB image (N, 3, H, W) saved once more as a JPEG at `quality` (PIL/libjpeg, 4:2:0) and decoded."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    out = np.empty((images.shape[0], images.shape[2], images.shape[3], 3), dtype=np.uint8)
    for i, hwc in enumerate(images.permute(0, 2, 3, 1).numpy()):
        buffer = io.BytesIO()
        Image.fromarray(hwc).save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
        with Image.open(buffer) as decoded:
            out[i] = np.asarray(decoded.convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
