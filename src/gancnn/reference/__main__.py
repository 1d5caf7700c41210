"""`python -m gancnn.reference [names...] [--device cpu|cuda]`: train the missing reference networks, in order."""

from __future__ import annotations

import argparse
import sys

import torch

from gancnn.book.params import ParameterError, resolve_device
from gancnn.reference import classifiers, verification


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) each requested network that is not stored yet; print a one-line summary each."""
    parser = argparse.ArgumentParser(prog="python -m gancnn.reference", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        default=list(classifiers.REFERENCE_CONFIGS),
        help=f"networks to train (default: all of {list(classifiers.REFERENCE_CONFIGS)})",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in classifiers.REFERENCE_CONFIGS]
    if unknown:
        print(
            f"error: unknown network(s) {unknown}; choose from {list(classifiers.REFERENCE_CONFIGS)}", file=sys.stderr
        )
        return 2
    try:
        device = str(resolve_device(args.device))
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    for name in args.names:
        had = classifiers.stored(name) is not None
        record = classifiers.ensure(name, device=device)
        state = "stored already" if had else "trained now"
        print(
            f"{name}: test {record['test_acc']:.2f}% (source {record['source_test_acc']}%, "
            f"{classifiers.verdict(record['test_acc'], record['source_test_acc'])}), "
            f"{record['train_seconds_total']:.0f} s of training, {state}",
            flush=True,
        )
    for name in args.names:
        result = verification.run(name)
        layer, share = verification.worst_layer(result)
        print(
            f"{name}: all-unit verification on {result['n_images']:,} test images, worst layer {layer} "
            f"{share:.4f}% within 1%",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
