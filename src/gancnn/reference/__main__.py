"""`python -m gancnn.reference [names...] [--device cpu|cuda]`: train the missing reference networks, in order.

Names are classifiers (`vgg7`, ...), `shuffled-<classifier>` (the same network trained on shuffled labels, for
the data-randomisation test), GANs (`dcgan`, `sagan`), the MNIST models of the Gaussian-mixture chapter
(`mnist-cnn`, `mnist-gan`), the coursework's `colourization` (three networks), `gmm-features` (Inception-v3
features of the reference SAGAN's images, for the same chapter) or `jpeg-sensitivity` (VGG7-BN on the CIFAR-10
copy saved again at coarser JPEG qualities); the default is all of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from gancnn.book.params import ParameterError, resolve_device
from gancnn.reference import classifiers, colourization, gans, gmm_features, mnist, verification

OTHERS = (*mnist.NAMES, "colourization", "gmm-features", "jpeg-sensitivity")


def write_summaries() -> Path:
    """Write one summary file per stored reference model (classifiers, GANs, MNIST models, colourisation)."""
    return classifiers.write_summary(extra={**gans.summary(), **mnist.summary(), **colourization.summary()})


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) each requested network that is not stored yet; print a one-line summary each."""
    parser = argparse.ArgumentParser(prog="python -m gancnn.reference", description=__doc__)
    shuffled = [f"shuffled-{n}" for n in classifiers.SHUFFLED_LABEL_CONFIGS]
    known = [*classifiers.REFERENCE_CONFIGS, *shuffled, *gans.REFERENCE_GANS, *OTHERS]
    parser.add_argument("names", nargs="*", default=known, help=f"networks to train (default: all of {known})")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"error: unknown network(s) {unknown}; choose from {known}", file=sys.stderr)
        return 2
    try:
        device = str(resolve_device(args.device))
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    names = [n for n in args.names if n in classifiers.REFERENCE_CONFIGS]
    for name in names:
        had = classifiers.stored(name) is not None
        record = classifiers.ensure(name, device=device)
        state = "stored already" if had else "trained now"
        print(
            f"{name}: test {record['test_acc']:.2f}% (source {record['source_test_acc']}%, "
            f"{classifiers.verdict(record['test_acc'], record['source_test_acc'])}), "
            f"{record['train_seconds_total']:.0f} s of training, {state}",
            flush=True,
        )
    for name in (n.removeprefix("shuffled-") for n in args.names if n in shuffled):
        had = classifiers.stored(name, classifiers.SHUFFLED_LABEL_CONFIGS[name]) is not None
        record = classifiers.ensure(name, device=device, cfg=classifiers.SHUFFLED_LABEL_CONFIGS[name])
        print(
            f"{name} on shuffled labels: fits {record.get('train_fit_acc', float('nan')):.1f}% of its shuffled "
            f"training labels, {record['test_acc']:.2f}% on the true test labels, "
            f"{record['train_seconds_total']:.0f} s, {'stored already' if had else 'trained now'}",
            flush=True,
        )
    for name in names:
        result = verification.run(name)
        layer, share = verification.worst_layer(result)
        print(
            f"{name}: all-unit verification on {result['n_images']:,} test images, worst layer {layer} "
            f"{share:.4f}% within 1%",
            flush=True,
        )
    for model in (n for n in args.names if n in gans.REFERENCE_GANS):
        had = gans.stored(model) is not None
        record = gans.ensure(model, device=device)
        print(
            f"{model}: FID {record['final_fid']:.2f} ({record['n_fid']:,} vs {record['n_fid']:,} test images), "
            f"mean of {len(record['final_chunks'])} chunks of 1024: {record['final_chunk_fid']:.2f} "
            f"(source {gans.SOURCE_CHUNK_FID[model]}), {gans.training_seconds(record):.0f} s of training steps, "
            f"{'stored already' if had else 'trained now'}",
            flush=True,
        )
    for name in (n for n in args.names if n in mnist.NAMES):
        had = mnist.stored_cnn() if name == "mnist-cnn" else mnist.stored_gan()
        record = mnist.ensure(name)
        detail = f"test accuracy {100 * record['test_accuracy']:.2f}%" if name == "mnist-cnn" else "generator stored"
        print(
            f"{name}: {record['n_steps']:,} steps, {detail}, {record['_provenance']['wall_time_s']:.0f} s, "
            f"{'stored already' if had is not None else 'trained now'}",
            flush=True,
        )
    if "colourization" in args.names:
        for arch, run in colourization.ensure(device).items():
            acc, loss = colourization.final(run)
            print(
                f"colourization {arch}: validation pixel accuracy {100 * acc:.1f}%, loss {loss:.4f} after "
                f"{len(run['epoch'])} epochs, {run['_provenance']['wall_time_s']:.0f} s",
                flush=True,
            )
    if "jpeg-sensitivity" in args.names:
        for (quality, seed), cfg in classifiers.JPEG_SENSITIVITY_CONFIGS.items():
            record = classifiers.ensure(cfg.name, device=device, cfg=cfg)
            print(
                f"jpeg-sensitivity {cfg.name} {cfg.epochs} epochs, quality {quality or 'as loaded'}, seed {seed}: "
                f"test {record['test_acc']:.2f}%, {record['train_seconds_total']:.0f} s",
                flush=True,
            )
    if "gmm-features" in args.names:
        for label, cfg in gmm_features.CONFIGS.items():
            entries = gmm_features.ensure(cfg, device)
            rate = min(e["images_per_s"] for e in entries)
            print(
                f"gmm-features {label} (z ~ {cfg.z}): {len(entries)} classes x {cfg.n_per_class} images, "
                f"Inception at {rate:.1f} images/s or more",
                flush=True,
            )
    path = write_summaries()
    print(f"summary: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
