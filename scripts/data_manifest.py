"""Print the checksums and counts of the offline data copies, for `gancnn.manifest.MANIFEST`.

Usage: `GANCNN_DATA=../shared/data python scripts/data_manifest.py`; paste its output over MANIFEST.
"""

from __future__ import annotations

import json

from gancnn import manifest
from gancnn.data import data_root


def main() -> None:
    """Hash every file of each copy and print the manifest as JSON."""
    root = data_root()
    raw = root / "MNIST" / "raw"
    out: dict[str, dict] = {
        "mnist-raw": {
            p.name: {"size": p.stat().st_size, "sha256": manifest.file_sha256(p)} for p in sorted(raw.iterdir())
        }
    }
    for split, per_class in (("train", 5000), ("test", 1000)):
        folder = root / "cifar10-jpeg" / split
        files = manifest.image_files(folder)
        out[f"cifar10-jpeg/{split}"] = {"per_class": per_class, "sha256": manifest.folder_sha256(folder, files)}
    print(json.dumps(out, indent=4))


if __name__ == "__main__":
    main()
