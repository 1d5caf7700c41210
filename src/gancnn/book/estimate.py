"""`make full`'s preflight: how long the full profile's training would take here, and a refusal on a CPU.

The estimate is a lower bound from rates measured on this machine and stored with the reference tier:
each classifier's seconds per epoch (its reference run, bf16) times the source's epochs, for every
source-schedule network not yet stored under `artifacts/full/`; and the seconds per generator step of the
reference GANs times the full profile's steps. Evaluation, Inception features and the fp32 steps of the
full profile come on top. `python -m gancnn.book.estimate --device cpu` exits with 3 (refusal) on a CPU
unless `--force` is given. The device is resolved first to what torch sees (`auto` without a GPU is the CPU,
so it is refused too); `cuda` without a GPU is refused with the one-line parameter error, forced or not.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gancnn.book.params import ParameterError, load_profile, resolve_device

REFUSED = 3


def classifier_rows() -> list[dict[str, Any]]:
    """One row per source-schedule CIFAR-10 network still to train: epochs, measured s/epoch, estimate."""
    from gancnn.adjoint.training import SOURCE_SCHEDULES, stored_full
    from gancnn.reference import classifiers

    rows = []
    for (name, dataset), (schedule, _) in SOURCE_SCHEDULES.items():
        if dataset != "cifar10" or stored_full(name) is not None:
            continue
        epochs = sum(n for _, n in schedule)
        record = classifiers.stored(name)
        per_epoch = record["train_seconds_total"] / classifiers.REFERENCE_CONFIGS[name].epochs if record else None
        seconds = epochs * per_epoch if per_epoch else None
        rows.append({"work": f"train {name}", "amount": f"{epochs} epochs", "seconds": seconds})
    return rows


def gan_rows() -> list[dict[str, Any]]:
    """The full profile's DCGAN and SAGAN steps at the measured seconds per step of the reference GANs."""
    from gancnn.reference import gans

    full = load_profile("full", "dcgan-sagan")
    rows = []
    for model in ("dcgan", "sagan"):
        steps = full[f"{model}_steps"]
        record = gans.stored(model)
        per_step = record["train_s"] / record["n_steps"] if record else None
        seconds = steps * per_step if per_step else None
        rows.append({"work": f"train {model}", "amount": f"{steps:,} steps", "seconds": seconds})
    return rows


def report(rows: list[dict[str, Any]]) -> tuple[float, str]:
    """Total known seconds and a printable table (unknown rates shown as such)."""
    lines, total = [], 0.0
    for r in rows:
        total += r["seconds"] or 0.0
        time = "no measured rate" if r["seconds"] is None else f"{r['seconds'] / 3600:8.1f} h"
        lines.append(f"  {r['work']:24s} {r['amount']:>16s}  {time}")
    return total, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the estimate; refuse (exit 3) on a CPU unless forced."""
    ap = argparse.ArgumentParser(prog="python -m gancnn.book.estimate", description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--force", action="store_true", help="run on a CPU anyway")
    args = ap.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ParameterError as exc:
        print(f"refusing to start the full profile: {exc}", file=sys.stderr)
        return REFUSED
    total, table = report(classifier_rows() + gan_rows())
    print(f"full profile, training still to do (lower bound from rates measured here, bf16):\n{table}")
    print(f"  total at least {total / 3600:.1f} h")
    if device.type == "cpu" and not args.force:
        print("refusing to start the full profile on a CPU: use a GPU (DEVICE=cuda) or FORCE=1", file=sys.stderr)
        return REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
