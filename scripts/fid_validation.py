"""Validate the offline Inception features: FID between N CIFAR-10 train and N test images.

Stores the result as a full-profile artifact (artifacts/full/fid-train-vs-test/), which the DCGAN/SAGAN
chapter shows; the experiment itself is `gancnn.gan.fid.train_vs_test`, the same one the chapter runs at
its own size. Usage: python scripts/fid_validation.py [N] (default 2000; about 11 minutes per 2,000
images on a 2-core CPU, seconds on a GPU with --device cuda).
"""

import argparse

from gancnn import data
from gancnn.book import cache
from gancnn.gan import fid


def main() -> None:
    """Compute (or read back) the stored validation and print it."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("n", nargs="?", type=int, default=2000)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    n, chunk, seed = args.n, 1024, 0
    if n < 2000:
        raise SystemExit("use N >= 2000: the chunked FID needs at least one 1024-image chunk and a sub-sample curve")
    train_set, test_set = data.load("cifar10", "train"), data.load("cifar10", "test")
    config = fid.train_vs_test_config(n, chunk, seed, test_set.data_copy.copy)

    def compute() -> dict:
        """The experiment, on the requested device."""
        return fid.train_vs_test(fid.InceptionFeatures(args.device), train_set, test_set, n, chunk, seed)

    out = cache.cached("full", "fid-train-vs-test", config, compute, device=args.device, data_copy=test_set.data_copy)
    print({k: v for k, v in out.items() if k != "_provenance"})


if __name__ == "__main__":
    main()
