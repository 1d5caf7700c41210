"""Reference DCGAN and SAGAN: trained once on all 50,000 CIFAR-10 training images, stored, loaded by the chapter.

Each run goes through `gancnn.gan.experiment.train_run` (checkpoints under `runs/checkpoints/dcgan-sagan/`,
exact resume) with bf16 autocast and channels_last, and is scored with the offline TF-Inception features
under two protocols from the same 10,000 generated images: the standard FID (one Gaussian per 10,000-image
set, against all 10,000 test images) and the source's (the mean FID over aligned 1024-image chunks). The
real test features are computed once and kept in the local cache (`gancnn.gan.fid.real_features`).
Stored under `artifacts/reference/gan-<model>/<hash>/`: the generator (fp16: inference only), curves,
FID curve, fixed-noise snapshots and provenance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from gancnn import data
from gancnn.book import cache
from gancnn.book.display import plural
from gancnn.gan import experiment, fid
from gancnn.models.sagan import CONDITIONINGS
from gancnn.train import for_machine, load_any_precision

PROFILE = "reference"
# The chapter's optimiser knobs (book/dcgan-sagan.md): DCGAN's Adam(2e-4, 0.5), SAGAN's TTUR Adam(1e-4 / 4e-4, 0, 0.9).
GAN_KNOBS = {
    "nz": 100,
    "dcgan_lr_g": 2e-4,
    "dcgan_lr_d": 2e-4,
    "dcgan_beta1": 0.5,
    "dcgan_beta2": 0.999,
    "sagan_lr_g": 1e-4,
    "sagan_lr_d": 4e-4,
    "sagan_beta1": 0.0,
    "sagan_beta2": 0.9,
    "n_critic": 1,
    "gp_weight": 10.0,
}
# Quoted from the source (CSE 676 project): mean FID over 1024-image chunks against the test images.
SOURCE_CHUNK_FID = {"dcgan": 90.0, "sagan": 88.95}
# Quoted from PyTorch-StudioGAN's CIFAR-10 table (10k generated vs the 10k test images, standard FID).
STUDIOGAN_FID = {"dcgan": 49.0, "sagan": 14.0}


def source_steps(model: str) -> str:
    """The source's training length for a model, as quoted (DCGAN: step of its best FID; SAGAN: last checkpoint)."""
    from gancnn.quotes import cse676  # imports this module: a top-level import would be circular

    quote = cse676.QUOTES["dcgan_best_fid_step" if model == "dcgan" else "sagan_steps"]
    return f"about {quote.printed()} ({quote.where})"


@dataclass(frozen=True)
class GANReferenceConfig:
    """Everything that determines a reference GAN run (its cache key, with the data copy)."""

    model: str
    n_steps: int
    width: int
    batch_size: int = 64
    n_train: int = 50000
    n_fid: int = 10000
    fid_chunk: int = 1024
    n_fid_curve: int = 1024
    curve_points: int = (
        8  # FID-curve points: curve_points - 1 during training at n_fid_curve images, then the final one
    )
    snapshot_points: int = 8
    checkpoint_every: int = 500
    fid_batch: int = 100
    precision: str = "bf16"
    channels_last: bool = True
    seed: int = 0
    conditioning: str = "concat"  # SAGAN's discriminator: "concat" (the source's table) or "projection"
    ema_decay: float = 0.0  # > 0: sample from a moving average of G's weights (`gancnn.gan.training`)

    def __post_init__(self) -> None:
        """Fail at once on values that cannot run."""
        experiment.check_model(self.model)
        for knob in ("n_steps", "width", "batch_size", "n_train", "n_fid", "n_fid_curve", "curve_points"):
            value = getattr(self, knob)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{knob} must be a positive int, got {value!r}")
        if self.width % 8:
            raise ValueError(f"width must be a multiple of 8 (attention divides it by 8), got {self.width}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        if not 2 <= self.fid_chunk <= self.n_fid <= 10000 or self.n_fid_curve > self.n_fid:
            raise ValueError("need 2 <= fid_chunk <= n_fid <= 10000 and n_fid_curve <= n_fid")

    def params(self) -> dict[str, Any]:
        """The parameter mapping `gancnn.gan.experiment` reads."""
        return {**GAN_KNOBS, **asdict(self), "sagan_conditioning": self.conditioning}


# Steps and widths: DCGAN 60,000 steps at width 64 (1.7 h to train and score on 2 CPU cores), SAGAN 50,000 at
# width 32 (2.5 h of training steps, run over two sessions through a checkpoint resume, plus about 25 min of
# scoring); about 4.6 h for the pair, over the 2.5 h first planned. The 25,000-step SAGAN it replaced stayed
# above the source's chunk-mean FID; the record of each run says where it stands. SAGAN's
# discriminator takes the label by projection: with the source's concatenation the label cannot condition
# (see `gancnn.models.sagan`), which the stored concat run shows (`SOURCE_DESIGN`).
REFERENCE_GANS: dict[str, GANReferenceConfig] = {
    "dcgan": GANReferenceConfig("dcgan", n_steps=60000, width=64, ema_decay=0.999),
    "sagan": GANReferenceConfig("sagan", n_steps=50000, width=32, conditioning="projection", ema_decay=0.999),
}
# The SAGAN run with the source's concatenated label (15,000 steps, no average): kept to show that its generator
# ignores the class.
SOURCE_DESIGN = {"sagan": GANReferenceConfig("sagan", n_steps=15000, width=32, conditioning="concat")}


def cache_config(cfg: GANReferenceConfig) -> dict[str, Any]:
    """The stored run's key: the run configuration of `experiment` plus the Inception graph used."""
    copy = data.load("cifar10", "train").data_copy.copy
    return {
        **experiment.run_config(cfg.model, cfg.n_steps, cfg.params(), copy),
        "inception": "optimized",
        "real_order": "shuffled",  # test features in a seeded random order (fid.real_features)
    }


def stored(model: str, cfg: GANReferenceConfig | None = None) -> dict[str, Any] | None:
    """The stored record of a reference GAN, or None when it was never trained."""
    cfg = cfg or REFERENCE_GANS[model]
    return load_any_precision(cfg, lambda variant: cache.load(PROFILE, f"gan-{model}", cache_config(variant)))


def generator(model: str, record: dict[str, Any], width: int, nz: int = 100) -> torch.nn.Module:
    """A run's generator (stored fp16 or fp32) in fp32 and eval mode."""
    G, _ = experiment.build_pair(model, nz, width, 0)
    G.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in record["generator"].items()})
    return G.eval()


def chapter_runs(profile: str, quick: Callable[[str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The runs a chapter analyses: on the quick profile the stored reference run of each model when present
    (for SAGAN, the source-design run when the projection one is missing), otherwise `quick(model)` (the
    profile's own short run). Each record gets `origin`, `width`, `n_train`, `batch_size` and, for reference
    runs, `conditioning`."""
    runs = {}
    for model in experiment.MODELS:
        record = None
        candidates = [REFERENCE_GANS[model]] + ([SOURCE_DESIGN[model]] if model in SOURCE_DESIGN else [])
        for cfg in candidates if profile == "quick" else []:
            record = stored(model, cfg)
            if record is not None:
                record.update(
                    origin="reference",
                    width=cfg.width,
                    n_train=cfg.n_train,
                    batch_size=cfg.batch_size,
                    conditioning=cfg.conditioning,
                )
                break
        if record is None:
            record = quick(model)
            record.setdefault("origin", "quick-fallback" if profile == "quick" else profile)
        runs[model] = record
    return runs


def train(cfg: GANReferenceConfig, device: str = "cpu") -> dict[str, Any]:
    """Train one reference GAN (resuming), score it under both FID protocols, return what is stored."""
    train_set, test_set = data.load("cifar10", "train"), data.load("cifar10", "test")
    p = cfg.params()
    x, y = data.to_tensors(train_set, data.select(train_set, limit=cfg.n_train, seed=cfg.seed))
    inception = fid.InceptionFeatures(device, optimize=True)
    start = time.perf_counter()
    real = fid.real_features(inception, test_set, "test", cfg.n_fid, cfg.seed, cfg.fid_batch)
    real_s = time.perf_counter() - start
    result = experiment.train_run(cfg.model, cfg.n_steps, p, x, y, inception, real, train_set.data_copy.copy, device)
    result["generator"] = {k: v.half() if v.is_floating_point() else v for k, v in result["generator"].items()}
    result["final_curve_fid"] = result["final_chunks"][0]  # the first 1024-image chunk: the curve's protocol
    result["real_features_s"] = real_s
    return result


def ensure(model: str, device: str = "cpu", cfg: GANReferenceConfig | None = None) -> dict[str, Any]:
    """Return the stored record of a reference GAN, training and storing it first when missing (a bf16 run
    trains at fp32 where bf16 is not accelerated; one stored at either precision counts as present)."""
    found = stored(model, cfg)
    if found is not None:
        return found
    cfg = for_machine(cfg or REFERENCE_GANS[model], device)
    copy = data.load("cifar10", "train").data_copy
    return cache.cached(
        PROFILE, f"gan-{model}", cache_config(cfg), lambda: train(cfg, device), device=device, data_copy=copy
    )


@torch.no_grad()
def class_agreement(
    generator: torch.nn.Module,
    classifier: torch.nn.Module,
    n_per_class: int = 100,
    nz: int = 100,
    seed: int = 0,
    n_classes: int = 10,
    batch: int = 250,
) -> np.ndarray:
    """Per class c, the fraction of images generated for class c that a CIFAR-10 classifier assigns to c.

    Generated images in [-1, 1] are rounded to uint8 (as a saved PNG) and normalised as the classifier's
    training images were; chance is 1 / n_classes.
    """
    from gancnn.adjoint.training import normalize
    from gancnn.gan.training import to_uint8

    if n_per_class <= 0:
        raise ValueError(f"n_per_class must be positive, got {n_per_class}")
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    z = torch.randn(len(labels), nz, generator=gen)
    generator.eval()
    classifier.eval()
    predicted = torch.cat(
        [
            classifier(normalize(to_uint8(generator(z[i : i + batch], labels[i : i + batch])))).argmax(1)
            for i in range(0, len(labels), batch)
        ]
    )
    hits = (predicted == labels).view(n_classes, n_per_class).double()
    return hits.mean(1).numpy()


@torch.no_grad()
def per_class_accuracy(
    classifier: torch.nn.Module, x_uint8: torch.Tensor, y: torch.Tensor, n_classes: int = 10
) -> np.ndarray:
    """The classifier's accuracy on real images of each class (the ceiling for `class_agreement`)."""
    from gancnn.adjoint.training import normalize

    classifier.eval()
    predicted = torch.cat([classifier(normalize(x_uint8[i : i + 500])).argmax(1) for i in range(0, len(y), 500)])
    return np.array([float((predicted[y == c] == c).double().mean()) for c in range(n_classes)])


# A difference from the source's chunk FID counts only beyond this many standard errors of our chunk mean.
SIGNIFICANT_STANDARD_ERRORS = 2.0


def verdict_word(model: str, chunk_fid: float, se: float = float("nan")) -> str:
    """Our chunk FID "better", "level" or "worse" than the source's (lower is better); level when the difference
    is within two standard errors of our chunk mean (a plain comparison when that error is unknown)."""
    margin = SOURCE_CHUNK_FID[model] - chunk_fid
    if se > 0 and abs(margin) <= SIGNIFICANT_STANDARD_ERRORS * se:
        return "level"
    return "better" if margin > 0 else "worse"


def verdict(model: str, chunk_fid: float, se: float = float("nan")) -> str:
    """Our chunk-mean FID against the source's by its own protocol, in words (see `verdict_word`)."""
    word = verdict_word(model, chunk_fid, se)
    if word == "level":
        return "level with the source (within two standard errors of our chunk mean)"
    return f"{word} than the source"


def binned_means(step: np.ndarray, values: np.ndarray, n_bins: int = 12) -> np.ndarray:
    """Means of `values` over `n_bins` equal spans of training steps (the course of a noisy loss)."""
    step, values = np.asarray(step, dtype=float), np.asarray(values, dtype=float)
    edges = np.linspace(0.0, float(step.max()), n_bins + 1)
    which = np.clip(np.searchsorted(edges, step, side="left") - 1, 0, n_bins - 1)
    return np.array([float(values[which == b].mean()) for b in range(n_bins)])


def loss_turn(step: np.ndarray, d_loss: np.ndarray, n_bins: int = 12) -> dict[str, Any]:
    """Whether D's binned loss first rises and then falls (its highest span strictly inside the run), and where."""
    means = binned_means(step, d_loss, n_bins)
    peak = int(np.argmax(means))
    span = float(np.asarray(step).max()) / n_bins
    return {
        "means": means,
        "peak_bin": peak,
        "rises_then_falls": 0 < peak < n_bins - 1,
        "turn_step": (peak + 0.5) * span,
        "span": span,
    }


def fid_curve(record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, FID) of the curve: 1024 generated vs 1024 test images at each point, the last from the final samples."""
    steps = np.append(np.asarray(record.get("fid_step", [])), record["n_steps"])
    values = np.append(np.asarray(record.get("fid", [])), record["final_curve_fid"])
    return steps, values


def fid_table(records: dict[str, dict[str, Any]]) -> Any:
    """One row per stored GAN: both protocols with their sample counts, beside the quoted figures."""
    import pandas as pd

    rows = []
    for model, r in records.items():
        rows.append(
            {
                "model": model.upper(),
                "steps": r["n_steps"],
                "FID, standard": round(float(r["final_fid"]), 2),
                "images (generated vs test)": f"{r['n_fid']:,} vs {r['n_fid']:,}",
                "StudioGAN (quoted), 10k vs 10k": STUDIOGAN_FID[model],
                "FID, mean of chunks": round(float(r["final_chunk_fid"]), 2),
                "s.e. of the chunk mean": round(chunk_standard_error(r), 2),
                "chunks": f"{len(r['final_chunks'])} x {r.get('fid_chunk', 1024)}",
                "source (quoted), chunks": f"{SOURCE_CHUNK_FID[model]:g}",  # as printed by the source
                "against the source": verdict_word(model, float(r["final_chunk_fid"]), chunk_standard_error(r)),
                "sampled from": f"average of G ({r['ema_decay']})" if r.get("ema_decay") else "G",
                "first chunk: sampled / G itself": first_chunk_pair(r),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def chunk_standard_error(record: dict[str, Any]) -> float:
    """Standard error of the chunk-mean FID: the chunks' sample standard deviation over sqrt(their number)."""
    chunks = np.asarray(record["final_chunks"], dtype=float)
    return float(chunks.std(ddof=1) / np.sqrt(len(chunks))) if len(chunks) > 1 else float("nan")


def margin_text(margin: float, se: float) -> str:
    """A margin in FID units, with its size in standard errors of the chunk mean when that is known."""
    return f"{margin:.2f}" + (f" ({margin / se:.1f} standard errors of our chunk mean)" if se > 0 else "")


def first_chunk_pair(record: dict[str, Any]) -> str:
    """The first chunk's FID of what a run samples from, then of G itself ("-" when they are the same network)."""
    if "raw_chunk_fid" not in record:
        return f"{float(record['final_chunks'][0]):.2f} / -"
    return f"{float(record['final_chunks'][0]):.2f} / {float(record['raw_chunk_fid']):.2f}"


def training_seconds(record: dict[str, Any]) -> float:
    """Seconds of D and G updates over the whole run (summed per step; survives resumes), else this process's."""
    return float(record.get("step_seconds_total", record["train_s"]))


def summary() -> dict[str, dict[str, Any]]:
    """Each stored reference GAN's FIDs under both protocols beside the quoted figures (for `write_summary`);
    the source-design runs appear as `<model>-<conditioning>`."""
    out = {}
    runs = [(model, model, cfg) for model, cfg in REFERENCE_GANS.items()]
    runs += [(f"{model}-{cfg.conditioning}", model, cfg) for model, cfg in SOURCE_DESIGN.items()]
    for name, model, cfg in runs:
        r = stored(model, cfg)
        if r is not None:
            out[name] = {
                "fid_standard": float(r["final_fid"]),
                "n_fid": int(r["n_fid"]),
                "fid_chunk_mean": float(r["final_chunk_fid"]),
                "chunk_mean_standard_error": chunk_standard_error(r),  # no "fid" in the key: it is not an FID
                "n_chunks": len(r["final_chunks"]),
                "source_chunk_fid": SOURCE_CHUNK_FID[model],
                "source_studiogan_fid": STUDIOGAN_FID[model],  # quoted anchor (keys naming a source hold quotes)
                "verdict": verdict(model, float(r["final_chunk_fid"]), chunk_standard_error(r)),
                "steps": int(r["n_steps"]),
                "width": cfg.width,
                **({"conditioning": cfg.conditioning} if model == "sagan" else {}),
                **(
                    {"ema_decay": cfg.ema_decay, "raw_g_first_chunk_fid": float(r["raw_chunk_fid"])}
                    if cfg.ema_decay
                    else {}
                ),
                "train_step_s": training_seconds(r),
                "entry": f"gan-{model}/{r['_provenance']['key']}",
                "date": r["_provenance"]["date"],
            }
    return out


def reference_summary() -> Any:
    """One row per reference GAN: stored or not, schedule, both FIDs beside the quoted figures, training time."""
    import pandas as pd

    rows = []
    runs = [(model.upper(), model, cfg) for model, cfg in REFERENCE_GANS.items()]
    runs += [
        (f"{model.upper()} ({cfg.conditioning}, source design)", model, cfg) for model, cfg in SOURCE_DESIGN.items()
    ]
    for name, model, cfg in runs:
        r = stored(model, cfg)
        row: dict[str, Any] = {"GAN": name, "steps": cfg.n_steps, "width": cfg.width, "batch": cfg.batch_size}
        if r is None:
            row["stored"] = "no (run make reference)"
        else:
            row.update(
                {
                    "stored": r["_provenance"]["date"][:10],
                    "device": r["_provenance"]["device"],
                    "FID (10k vs 10k)": round(float(r["final_fid"]), 2),
                    "chunk-mean FID": round(float(r["final_chunk_fid"]), 2),
                    "source chunk FID (quoted)": SOURCE_CHUNK_FID[model],
                    "training steps (min)": round(training_seconds(r) / 60, 1),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("GAN")


def fid_claim_reason(model: str, r: dict[str, Any], word: str, margin: float, se: float, reference: bool) -> str:
    """Why a GAN's chunk-FID claim got its verdict, with what the comparison rests on (samples, data copy)."""
    if not reference and word == "worse":
        return "no stored reference GAN: the quick run is far too short"
    reason = {
        "better": f"lower than the source's by {margin_text(margin, se)}",
        "level": f"within two standard errors of the source's: {'lower' if margin > 0 else 'higher'} by "
        f"{margin_text(abs(margin), se)}; the spread over training seeds is not measured",
        "worse": f"higher than the source's by {margin_text(-margin, se)}, after fewer steps than its "
        f"{source_steps(model)}",
    }[word]
    if "raw_chunk_fid" in r:
        reason += (
            f"; sampled from the moving average of G (first chunk {float(r['final_chunks'][0]):.2f}, "
            f"G itself {float(r['raw_chunk_fid']):.2f})"
        )
    copy = r.get("_provenance", {}).get("data_copy", {}).get("description")
    return reason + (f"; trained and scored on the {copy}" if copy else "")


def fid_claims(records: dict[str, dict[str, Any]], anchor: str = "") -> list[Any]:
    """Ledger claims: each GAN's mean FID over 1024-image chunks against the one the source reports."""
    from gancnn.book.ledger import Claim

    claims = []
    for model, r in records.items():
        ours, se = float(r["final_chunk_fid"]), chunk_standard_error(r)
        reference = r.get("_provenance", {}).get("profile") == PROFILE
        word = verdict_word(model, ours, se)
        margin = SOURCE_CHUNK_FID[model] - ours
        n_chunks = len(r["final_chunks"])
        claims.append(
            Claim(
                source="cse676project",
                section="results",
                claim=f"{model.upper()} reaches the reported mean FID over 1024-image chunks of the test set "
                "(lower is better)",
                source_figure=f"{SOURCE_CHUNK_FID[model]:g}",
                ours=f"{ours:.2f}{f' ± {se:.2f} (s.e. over chunks; ' if se > 0 else ' ('}standard protocol "
                f"{float(r['final_fid']):.2f})",
                scale=f"{int(r['n_steps']):,} steps, {plural(n_chunks, 'chunk')} of {r.get('fid_chunk', 1024)}"
                + ("" if reference else " (quick profile)"),
                verdict="reproduced" if word != "worse" else ("not reproduced" if reference else "not testable here"),
                reason=fid_claim_reason(model, r, word, margin, se, reference),
                anchor=anchor,
            )
        )
    return claims
