"""The DCGAN/SAGAN experiment of the dcgan-sagan chapter: model pairs, training knobs, one cached run.

A parameter set `p` is a mapping with the chapter's knobs (a `RunConfig` or a profile dict): `nz`,
`width`, `batch_size`, the learning rates and betas of both families, `n_critic`, `gp_weight`, and the
evaluation knobs `n_fid`, `fid_chunk`, `n_fid_curve`, `curve_points`, `snapshot_points`, `fid_batch`,
`checkpoint_every`, `seed`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from gancnn.book import cache
from gancnn.book.paths import runs_dir
from gancnn.book.seed import seed_everything
from gancnn.gan import fid
from gancnn.gan import training as gan
from gancnn.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancnn.models.sagan import SAGANDiscriminator, SAGANGenerator

MODELS = ("dcgan", "sagan")
RUN_KEYS = (
    "seed",
    "n_train",
    "width",
    "batch_size",
    "nz",
    "n_fid",
    "fid_chunk",
    "n_fid_curve",
    "curve_points",
    "snapshot_points",
)


def check_model(model: str) -> None:
    """Fail on an unknown model family."""
    if model not in MODELS:
        raise ValueError(f"unknown GAN family {model!r}; choose one of {MODELS}")


def build_pair(
    model: str, nz: int, width: int, seed: int, conditioning: str = "concat"
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Fresh (G, D) of one family, initialised from a seed (SAGAN is conditional on the 10 classes; its D takes
    the label by `conditioning`, see `gancnn.models.sagan`)."""
    check_model(model)
    torch.manual_seed(seed)
    if model == "dcgan":
        return DCGANGenerator(nz, width), DCGANDiscriminator(width)
    return SAGANGenerator(nz, 10, width), SAGANDiscriminator(10, width, conditioning=conditioning)


def conditioning_of(model: str, p: Mapping[str, Any]) -> dict[str, str]:
    """The run-config entry for SAGAN's label conditioning (`sagan_conditioning`, default the source's concat)."""
    return {"conditioning": p.get("sagan_conditioning", "concat")} if model == "sagan" else {}


def setup_for(model: str, p: Mapping[str, Any]) -> gan.GANSetup:
    """The training knobs of one family: DCGAN's non-saturating loss, SAGAN's WGAN-GP with TTUR."""
    check_model(model)
    if model == "dcgan":
        return gan.GANSetup(
            loss="nonsaturating",
            nz=p["nz"],
            n_classes=0,
            batch_size=p["batch_size"],
            lr_g=p["dcgan_lr_g"],
            lr_d=p["dcgan_lr_d"],
            beta1=p["dcgan_beta1"],
            beta2=p["dcgan_beta2"],
            precision=p.get("precision", "fp32"),
            channels_last=p.get("channels_last", False),
            ema_decay=p.get("ema_decay", 0.0),
        )
    return gan.GANSetup(
        loss="wgan-gp",
        nz=p["nz"],
        n_classes=10,
        batch_size=p["batch_size"],
        lr_g=p["sagan_lr_g"],
        lr_d=p["sagan_lr_d"],
        beta1=p["sagan_beta1"],
        beta2=p["sagan_beta2"],
        n_critic=p["n_critic"],
        gp_weight=p["gp_weight"],
        precision=p.get("precision", "fp32"),
        channels_last=p.get("channels_last", False),
        ema_decay=p.get("ema_decay", 0.0),
    )


def run_config(model: str, n_steps: int, p: Mapping[str, Any], data_copy: str) -> dict[str, Any]:
    """Everything that determines a run's result (its cache and checkpoint key)."""
    return {
        "model": model,
        "n_steps": n_steps,
        "setup": setup_for(model, p).as_dict(),
        "copy": data_copy,
        **{k: p[k] for k in RUN_KEYS},
        **conditioning_of(model, p),
    }


def step_seconds(history: list[dict[str, Any]], batch_size: int, n_critic: int) -> float:
    """Seconds spent in D and G updates over the whole run, summed from each step's measured throughput.

    Unlike the wall time of one process it also counts the steps of earlier, interrupted processes (the
    history comes back with the checkpoint); it leaves out evaluation and checkpoint writing.
    """
    return float(sum(batch_size * n_critic / h["d_img_per_s"] + batch_size / h["g_img_per_s"] for h in history))


def train_run(
    model: str,
    n_steps: int,
    p: Mapping[str, Any],
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    inception: fid.InceptionFeatures,
    real_features: np.ndarray,
    data_copy: str,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Train one GAN with checkpoints; return binned curves, the FID curve, final FIDs, snapshots and G's weights."""
    seed = p["seed"]
    seed_everything(seed)
    G, D = build_pair(model, p["nz"], p["width"], seed, **conditioning_of(model, p))
    trainer = gan.GANTrainer(G, D, train_x, train_y, setup_for(model, p), seed=seed, device=device)
    eval_every = max(n_steps // p["curve_points"], 1)
    snapshot_every = max(-(-n_steps // p["snapshot_points"]), 1)

    def evaluate(done: int) -> dict[str, float]:
        """FID of n_fid_curve fresh samples against the test features."""
        fake, _ = trainer.sample_random(p["n_fid_curve"], seed=seed + done)
        feats = inception(fake, p["fid_batch"], progress=False)
        return {"fid": fid.fid_from_features(feats, real_features[: p["n_fid_curve"]])}

    key = cache.config_key(run_config(model, n_steps, p, data_copy))
    checkpoint = runs_dir() / "checkpoints" / "dcgan-sagan" / f"{model}-{key}.pt"
    start = time.perf_counter()
    history = trainer.train(
        n_steps,
        checkpoint=checkpoint,
        every=p["checkpoint_every"],
        evaluate=evaluate,
        eval_every=eval_every,
        snapshot_every=snapshot_every,
        desc=model,
    )
    train_s = time.perf_counter() - start
    fake, _ = trainer.sample_random(p["n_fid"], seed=seed + 10**6)
    feats = inception(fake, p["fid_batch"], desc=f"{model} final features")
    chunk_mean, chunks = fid.chunked_fid(feats, real_features, p["fid_chunk"])
    late = history[len(history) // 10 :]
    snap_steps = sorted(trainer.snapshots.images)
    averaged = {}
    if trainer.G_avg is not None:  # what the average bought: G's own first chunk beside the average's
        raw, _ = trainer.sample_random(p["fid_chunk"], seed=seed + 10**6, generator=G)
        raw_feats = inception(raw, p["fid_batch"], desc=f"{model} raw-G features")
        averaged = {
            "raw_chunk_fid": fid.fid_from_features(raw_feats, real_features[: p["fid_chunk"]]),
            "ema_decay": trainer.setup.ema_decay,
        }
    return {
        **averaged,
        **gan.summarize_history(history),
        "final_fid": fid.fid_from_features(feats, real_features),
        "final_chunk_fid": chunk_mean,
        "final_chunks": chunks,
        "n_steps": n_steps,
        "n_fid": p["n_fid"],
        "train_s": train_s,
        "step_seconds_total": step_seconds(history, p["batch_size"], setup_for(model, p).n_critic),
        "d_img_per_s": float(np.median([h["d_img_per_s"] for h in late])),
        "g_img_per_s": float(np.median([h["g_img_per_s"] for h in late])),
        "snapshot_steps": snap_steps,
        "snapshots": torch.stack([trainer.snapshots.images[s] for s in snap_steps]).numpy(),
        "final_samples": fake[:64].numpy(),
        "generator": {k: v.cpu() for k, v in trainer.sampling_generator.state_dict().items()},
    }
