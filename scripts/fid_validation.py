"""Validate the offline Inception features: FID between N CIFAR-10 train and N test images.

Stores the result as a full-profile artifact (artifacts/full/fid-train-vs-test/), which the DCGAN/SAGAN
chapter shows. Usage: python scripts/fid_validation.py [N] (default 2000; about 11 minutes per 2,000
images on a 2-core CPU, seconds on a GPU with --device cuda).
"""

import argparse
import time

import numpy as np

from gancnn import data
from gancnn.book import cache
from gancnn.gan import fid

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("n", nargs="?", type=int, default=2000)
ap.add_argument("--device", default="cpu")
args = ap.parse_args()
n, chunk, seed = args.n, 1024, 0
if n < 2000:
    raise SystemExit("use N >= 2000: the sub-sample curve uses sizes 250..2000")
train_set, test_set = data.load("cifar10", "train"), data.load("cifar10", "test")
config = {
    "n": n,
    "chunk": chunk,
    "seed": seed,
    "copy": test_set.data_copy.copy,
    "resize": fid.RESIZE_HW,
    "resample": fid.RESAMPLE_MODE,
}


def compute() -> dict:
    inception = fid.InceptionFeatures(args.device)
    t0 = time.perf_counter()
    test_feats = inception(data.to_tensors(test_set, data.select(test_set, limit=n, seed=seed))[0], 50, desc="test")
    train_feats = inception(
        data.to_tensors(train_set, data.select(train_set, limit=n, seed=seed + 1))[0], 50, desc="train"
    )
    rate = 2 * n / (time.perf_counter() - t0)
    sizes = [250, 500, 1000, 2000] + ([n] if n > 2000 else [])
    sub = [
        np.mean([fid.fid_from_features(train_feats[s : s + k], test_feats[s : s + k]) for s in range(0, n - k + 1, k)])
        for k in sizes
    ]
    chunk_mean, chunks = fid.chunked_fid(train_feats, test_feats, chunk)
    return {
        "n": n,
        "fid": fid.fid_from_features(train_feats, test_feats),
        "chunk": chunk,
        "chunk_mean": chunk_mean,
        "chunks": chunks,
        "sizes": np.array(sizes),
        "sub_fid": np.array(sub),
        "images_per_s": rate,
    }


out = cache.cached("full", "fid-train-vs-test", config, compute, device=args.device, data_copy=test_set.data_copy)
print({k: v for k, v in out.items() if k != "_provenance"})
