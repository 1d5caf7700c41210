"""Reference colourisation runs: the coursework's protocol (25 epochs, every horse, Adam 0.001), stored once.

The three networks (PoolUpsampleNet, ConvTransposeNet, U-Net) are trained by
`gancnn.coursework.colorization` (the chapter's own trainer) on all 5,000 training horses of the
CIFAR-10 copy and validated on all 1,000 test horses, and stored under
`artifacts/reference/colourization/`. The optimisation chapter loads them on the quick profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gancnn import data
from gancnn.book import cache
from gancnn.coursework import colorization as col

PROFILE = "reference"
ARCHITECTURES = ("PoolUpsampleNet", "ConvTransposeNet", "UNet")
# Quoted from the coursework (25 epochs on every training horse): validation pixel accuracy and loss.
QUOTED = {"PoolUpsampleNet": (0.413, 1.5877), "ConvTransposeNet": (0.554, 1.1440)}


@dataclass(frozen=True)
class ColourReferenceConfig:
    """The coursework's colourisation protocol (the knobs of `colorization.RUN_KEYS`)."""

    seed: int = 0
    colour_class: str = "horse"
    n_train: int | None = None  # every training image of the class (5,000)
    n_val: int | None = None  # every test image of the class (1,000)
    n_clusters: int = 24
    kmeans_pixels: int = 200000
    epochs: int = 25
    batch_size: int = 100
    colour_lr: float = 1e-3
    kernel: int = 3
    num_filters: int = 32


REFERENCE = ColourReferenceConfig()


def params(cfg: ColourReferenceConfig = REFERENCE) -> dict[str, Any]:
    """The configuration as the mapping `colorization.run_config` and `train_run` read."""
    return asdict(cfg)


def prepare(cfg: ColourReferenceConfig = REFERENCE) -> col.ColourData:
    """Grey inputs, targets and palette of the reference protocol."""
    return col.prepare(cfg.colour_class, cfg.n_train, cfg.n_val, cfg.n_clusters, cfg.kmeans_pixels, cfg.seed)


def data_copy() -> str:
    """The CIFAR-10 copy the runs are keyed by (cheap: no image is decoded)."""
    return data.load("cifar10", "train", transform="pil").data_copy.copy


def stored(copy: str | None = None, cfg: ColourReferenceConfig = REFERENCE) -> dict[str, dict[str, Any]] | None:
    """The stored runs of all three networks, or None when any is missing."""
    p, copy = params(cfg), copy or data_copy()
    runs = {arch: cache.load(PROFILE, "colourization", col.run_config(arch, p, copy)) for arch in ARCHITECTURES}
    if any(r is None for r in runs.values()):
        return None
    return {arch: {**run, "_cached": True} for arch, run in runs.items()}  # type: ignore[dict-item]


def ensure(device: str = "cpu", cfg: ColourReferenceConfig = REFERENCE) -> dict[str, dict[str, Any]]:
    """Train (resuming) and store each missing network; return all three runs."""
    cd = prepare(cfg)
    p = params(cfg)
    return {
        arch: cache.cached(
            PROFILE,
            "colourization",
            col.run_config(arch, p, cd.data_copy.copy),
            lambda arch=arch: col.train_run(arch, p, cd, device),
            device=device,
            data_copy=cd.data_copy,
        )
        for arch in ARCHITECTURES
    }


def final(run: Mapping[str, Any]) -> tuple[float, float]:
    """(validation pixel accuracy, validation loss) after the last epoch."""
    return float(run["val_acc"][-1]), float(run["val_loss"][-1])


def summary() -> dict[str, dict[str, Any]]:
    """Per-network summary rows (for `classifiers.write_summary`), when all three runs are stored."""
    runs = stored()
    if runs is None:
        return {}
    rows = {}
    for arch, run in runs.items():
        acc, loss = final(run)
        quoted = QUOTED.get(arch)
        rows[f"colourization-{arch}"] = {
            "val_pixel_acc": round(100 * acc, 2),
            "val_loss": round(loss, 4),
            "coursework_val_pixel_acc": None if quoted is None else 100 * quoted[0],
            "coursework_val_loss": None if quoted is None else quoted[1],
            "epochs": len(run["epoch"]),
            "wall_s": round(run["_provenance"]["wall_time_s"], 1),
            "config": asdict(REFERENCE),
        }
    return rows


def reference_summary() -> Any:
    """One row per reference colourisation network: stored or not, final validation figures beside the quotes."""
    import pandas as pd

    runs = stored() or {}
    rows = []
    for arch in ARCHITECTURES:
        row: dict[str, Any] = {"network": arch, "epochs": REFERENCE.epochs}
        run = runs.get(arch)
        if run is None:
            row["stored"] = "no (run make reference)"
        else:
            acc, loss = final(run)
            quoted = QUOTED.get(arch)
            row.update(
                {
                    "stored": run["_provenance"]["date"][:10],
                    "val pixel accuracy %": round(100 * acc, 1),
                    "coursework % (quoted)": "-" if quoted is None else round(100 * quoted[0], 1),
                    "val loss": round(loss, 4),
                    "coursework loss (quoted)": "-" if quoted is None else quoted[1],
                    "wall time (min)": round(run["_provenance"]["wall_time_s"] / 60, 1),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("network")


def ledger_claims(runs: Mapping[str, Mapping[str, Any]], scale: str, anchor: str = "") -> list[Any]:
    """Ledger claims: the quoted validation accuracies (one point of tolerance) and the ranking of the networks."""
    from gancnn.book.ledger import Claim, within

    claims = []
    for arch, (acc, loss) in QUOTED.items():
        if arch not in runs:
            continue
        ours_acc, ours_loss = final(runs[arch])
        claims.append(
            Claim(
                source="csc413assignment2",
                section="sections 4 and 5 (colourisation)",
                claim=f"{arch} reaches the reported validation pixel accuracy",
                source_figure=f"{100 * acc:.1f}% (loss {loss:.4f})",
                ours=f"{100 * ours_acc:.1f}% (loss {ours_loss:.4f})",
                scale=scale,
                verdict=within(100 * ours_acc, 100 * acc, 1.0),
                reason="tolerance one point of accuracy; our data is the lossy JPEG copy of CIFAR-10",
                anchor=anchor,
            )
        )
    if {"PoolUpsampleNet", "ConvTransposeNet"} <= set(runs):
        pool, trans = final(runs["PoolUpsampleNet"])[0], final(runs["ConvTransposeNet"])[0]
        claims.append(
            Claim(
                source="csc413assignment2",
                section="sections 4 and 5 (colourisation)",
                claim="learned upsampling (ConvTransposeNet) colourises better than pooling and fixed upsampling",
                source_figure=f"{100 * QUOTED['ConvTransposeNet'][0]:.1f}% vs "
                f"{100 * QUOTED['PoolUpsampleNet'][0]:.1f}%",
                ours=f"{100 * trans:.1f}% vs {100 * pool:.1f}%",
                scale=scale,
                verdict="reproduced" if trans > pool else "not reproduced",
                reason="same ordering of the validation pixel accuracies"
                if trans > pool
                else "the ordering of the accuracies is reversed",
                anchor=anchor,
            )
        )
    return claims
