"""Reference MNIST models of the Gaussian-mixture chapter: the GAN at the source's scale and the CNN, stored once.

Both are trained by `gancnn.gan.mnist` (the chapter's own trainers) on all 60,000 training images and
stored under `artifacts/reference/mnist-gan/` and `artifacts/reference/mnist-cnn/`. The GAN keeps only
its generator (6 MB in fp32), which is all the chapter analyses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gancnn import data
from gancnn.book import cache
from gancnn.gan import mnist as mt
from gancnn.models.mnist_cnn import MnistCNN
from gancnn.models.mnist_gan import Generator

PROFILE = "reference"
# Quoted from the source (section 7): the fully connected GAN trained for 50 epochs.
SOURCE_GAN_EPOCHS = 50


@dataclass(frozen=True)
class MnistGANConfig:
    """The reference MNIST GAN: the source's 50 epochs over all 60,000 training images."""

    seed: int = 0
    n_train: int = 60000
    epochs: int = SOURCE_GAN_EPOCHS
    batch_size: int = 64
    lr: float = 2e-4
    n_grid: int = 32
    n_snapshots: int = 6


@dataclass(frozen=True)
class MnistCNNConfig:
    """The reference MNIST CNN: Adam, 3 epochs over all 60,000 training images."""

    seed: int = 0
    n_train: int = 60000
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3


REFERENCE_GAN = MnistGANConfig()
REFERENCE_CNN = MnistCNNConfig()
NAMES = ("mnist-cnn", "mnist-gan")


def _copy() -> str:
    """The MNIST copy the models are keyed by."""
    return data.load("mnist", "train").data_copy.copy


def _stored(experiment: str, config: dict[str, Any], model: Any, weights: str) -> tuple[Any, dict[str, Any]] | None:
    """(model with the stored weights, in eval mode, record) of a stored reference entry, or None when absent."""
    record = cache.load(PROFILE, experiment, config)
    if record is None:
        return None
    model.load_state_dict(record[weights])
    return model.eval(), record


def stored_gan(cfg: MnistGANConfig | None = None) -> tuple[Generator, dict[str, Any]] | None:
    """(generator in eval mode, record) of the stored reference GAN, or None when it was never trained."""
    return _stored("mnist-gan", asdict(cfg or REFERENCE_GAN), Generator(), "gen")


def stored_cnn(cfg: MnistCNNConfig | None = None) -> tuple[MnistCNN, dict[str, Any]] | None:
    """(CNN in eval mode, record) of the stored reference CNN, or None when it was never trained."""
    return _stored("mnist-cnn", asdict(cfg or REFERENCE_CNN), MnistCNN(), "state")


def ensure(name: str) -> dict[str, Any]:
    """Train (resuming) and store one reference model when missing; return its record."""
    _copy()  # fail at once, with the data error, when MNIST is missing
    if name == "mnist-gan":
        g = REFERENCE_GAN
        _, record = mt.train_gan(
            PROFILE, g.seed, g.n_train, g.epochs, g.batch_size, g.lr, g.n_grid, g.n_snapshots, keep_discriminator=False
        )
        return record
    if name == "mnist-cnn":
        c = REFERENCE_CNN
        _, record = mt.train_cnn(PROFILE, c.seed, c.n_train, c.epochs, c.batch_size, c.lr)
        return record
    raise ValueError(f"unknown MNIST reference model {name!r}; choose from {list(NAMES)}")


def chapter_models(profile: str, p: Mapping[str, Any]) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The CNN and GAN the chapter analyses: on the quick profile the stored reference models when present,
    otherwise the profile's own runs (`cnn_train`, `cnn_epochs`, `gan_train`, `gan_epochs`, ...).

    Each record gets `origin` ("reference", "quick-fallback" or the profile), `n_train` and `epochs`.
    """
    found = {"mnist-cnn": stored_cnn(), "mnist-gan": stored_gan()} if profile == "quick" else {}
    out: dict[str, tuple[Any, dict[str, Any]]] = {}
    for name, ref_cfg in (("mnist-cnn", REFERENCE_CNN), ("mnist-gan", REFERENCE_GAN)):
        hit = found.get(name)
        if hit is not None:
            model, record = hit
            record.update(origin="reference", n_train=ref_cfg.n_train, epochs=ref_cfg.epochs, _cached=True)
        elif name == "mnist-cnn":
            model, record = mt.train_cnn(profile, p["seed"], p["cnn_train"], p["cnn_epochs"])
            record.update(n_train=p["cnn_train"], epochs=p["cnn_epochs"])
        else:
            model, record = mt.train_gan(
                profile,
                p["seed"],
                p["gan_train"],
                p["gan_epochs"],
                batch_size=p["gan_batch"],
                n_snapshots=p["n_snapshots"],
            )
            record.update(n_train=p["gan_train"], epochs=p["gan_epochs"])
        if hit is None:
            record["origin"] = "quick-fallback" if profile == "quick" else profile
        out[name] = (model, record)
    return out


def describe_origin(records: Mapping[str, dict[str, Any]]) -> str | None:
    """A warning for the reader when a model is the profile's short run instead of the stored reference."""
    fallback = [name for name, r in records.items() if r["origin"] == "quick-fallback"]
    if not fallback:
        return None
    return (
        f"No stored reference model for {', '.join(fallback)}: trained here briefly instead (see the line "
        "above), so statements about the trained GAN and CNN do not apply to it. Run `make reference` "
        "to train and store the reference models."
    )


def summary() -> dict[str, dict[str, Any]]:
    """Per-model summary rows (for `classifiers.write_summary`): test accuracy, steps, wall time."""
    rows: dict[str, dict[str, Any]] = {}
    cnn = stored_cnn()
    if cnn is not None:
        r = cnn[1]
        rows["mnist-cnn"] = {
            "test_acc": round(100 * r["test_accuracy"], 2),
            "n_steps": r["n_steps"],
            "wall_s": round(r["_provenance"]["wall_time_s"], 1),
            "config": asdict(REFERENCE_CNN),
        }
    gan = stored_gan()
    if gan is not None:
        r = gan[1]
        rows["mnist-gan"] = {
            "n_steps": r["n_steps"],
            "step_seconds_total": round(r["step_seconds_total"], 1),
            "wall_s": round(r["_provenance"]["wall_time_s"], 1),
            "config": asdict(REFERENCE_GAN),
        }
    return rows


def reference_summary() -> Any:
    """One row per reference MNIST model: stored or not, schedule, accuracy (CNN), training time."""
    import pandas as pd

    rows = []
    for name, cfg, found in (
        ("mnist-cnn", REFERENCE_CNN, stored_cnn()),
        ("mnist-gan", REFERENCE_GAN, stored_gan()),
    ):
        row: dict[str, Any] = {"model": name, "epochs": cfg.epochs, "images": cfg.n_train, "batch": cfg.batch_size}
        if found is None:
            row["stored"] = "no (run make reference)"
        else:
            r = found[1]
            prov = r["_provenance"]
            row.update(
                {
                    "stored": prov["date"][:10],
                    "device": prov["device"],
                    "steps": r["n_steps"],
                    "test accuracy %": round(100 * r["test_accuracy"], 2) if name == "mnist-cnn" else "-",
                    "wall time (min)": round(prov["wall_time_s"] / 60, 1),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")
