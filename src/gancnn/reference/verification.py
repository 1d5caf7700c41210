"""The all-unit AdjointBackMap verification of every reference network on all 10,000 test images, stored once.

The quick build verifies a subset of the test images itself (see the AdjointBackMap chapters) and
shows this stored run beside it. Bias-free networks use version 1; networks with batch norm or
Fixup biases are folded (`gancnn.adjoint.folding.equivalent_model`) and use version 2.
"""

from __future__ import annotations

from typing import Any

import torch

from gancnn.adjoint import backmap as adjoint
from gancnn.adjoint import folding
from gancnn.adjoint.training import normalize
from gancnn.book import cache
from gancnn.reference import classifiers

BIAS_FREE = ("vgg7", "fixup-resnet20")
TOL = 0.01
BATCH = 100


def version_of(name: str) -> int:
    """AdjointBackMap version for a network: 1 without any bias, 2 otherwise."""
    return 1 if name in BIAS_FREE else 2


def experiment(name: str) -> str:
    """The cache experiment name of the stored all-image verification."""
    return f"adjoint-v{version_of(name)}-verify-all"


def verification_config(record: dict[str, Any], n_images: int) -> dict[str, Any]:
    """Cache key of a stored verification: which weights, how many images, tolerance, precision, data copy."""
    return {
        "model": record["_provenance"]["key"],
        "n": n_images,
        "tol": TOL,
        "dtype": "torch.float32",
        "batch": BATCH,
        "copy": record["data_copy"],
        "units": "jvp primal / k",  # c from the jvp's primal (checked against a forward on the first batch)
    }


def analysable(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """The network itself (v1) or its folded equivalent (v2)."""
    return model if version_of(name) == 1 else folding.equivalent_model(model)


def run(name: str, n_images: int = 10_000, cfg: classifiers.ReferenceConfig | None = None) -> dict[str, Any] | None:
    """Verify every unit of every layer of a stored network on the first n_images test images (stored)."""
    found = classifiers.reference_model(name, cfg)
    if found is None:
        return None
    model, record = found
    x, _, copy = classifiers.cached_images(record["_provenance"]["config"]["dataset"], "test")
    x = normalize(x[:n_images])

    def compute() -> dict[str, Any]:
        """The verification itself."""
        abm = adjoint.AdjointBackMap(analysable(model, name), version=version_of(name))
        return adjoint.verify_batches(abm, torch.split(x, BATCH), tol=TOL, method="jvp")  # the stored runs' route

    return cache.cached(
        classifiers.PROFILE, experiment(name), verification_config(record, len(x)), compute, data_copy=copy
    )


def stored(name: str, n_images: int = 10_000, cfg: classifiers.ReferenceConfig | None = None) -> dict[str, Any] | None:
    """The stored all-image verification of a reference network, or None."""
    found = classifiers.stored(name, cfg)
    if found is None:
        return None
    return cache.load(classifiers.PROFILE, experiment(name), verification_config(found, n_images))


def worst_layer(result: dict[str, Any]) -> tuple[str, float]:
    """The layer with the smallest share of units within the tolerance, and that share (%)."""
    layer = min(result["layers"], key=lambda n: result["layers"][n]["percent_within"])
    return layer, float(result["layers"][layer]["percent_within"])
