"""What each offline data copy must contain: file counts per class and content checksums, checked on load.

A copy in the data root is accepted only when it matches `MANIFEST` (written by `scripts/data_manifest.py`
from the copies in `../shared/data/`): MNIST's four idx files by size and SHA-256, each CIFAR-10 JPEG split by
its number of images per class and one SHA-256 over all (relative path, file SHA-256) pairs. Hashing a split
takes a few seconds, so a verified copy is remembered by a cheap signature of its files' names, sizes and
modification times (in this process and in `artifacts/local/data-verified.json`); a changed file changes the
signature and is hashed again. A mismatch raises `DataError` naming the file or class that differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

MANIFEST: dict[str, dict[str, Any]] = {
    "mnist-raw": {
        "t10k-images-idx3-ubyte": {
            "size": 7840016,
            "sha256": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        },
        "t10k-labels-idx1-ubyte": {
            "size": 10008,
            "sha256": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        "train-images-idx3-ubyte": {
            "size": 47040016,
            "sha256": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        },
        "train-labels-idx1-ubyte": {
            "size": 60008,
            "sha256": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        },
    },
    "cifar10-jpeg/train": {
        "per_class": 5000,
        "sha256": "fcbe67043f83357b737a28a0d2cc8f3203e4c2ba72b7f16ef82c8c55868c775c",
    },
    "cifar10-jpeg/test": {
        "per_class": 1000,
        "sha256": "1ad537934f91ddd63170abba96b06102c7a6ead5700c8359cc4a96321495b021",
    },
}
_verified: set[str] = set()


class ManifestError(RuntimeError):
    """A data copy differs from its manifest (missing, truncated or altered files)."""


def file_sha256(path: Path) -> str:
    """SHA-256 of one file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def image_files(folder: Path) -> list[Path]:
    """The images of an ImageFolder split, sorted by relative path (as `sorted(Path)` orders them: part by part).

    Like `Path.rglob("*")` filtered to files: hidden files are left out, symlinked folders are not entered. The
    directory entries' types come without a stat per file, which makes it 2-4x faster than `rglob` on the
    50,000 CIFAR-10 training images that every load of the copy lists.
    """
    found: list[tuple[str, ...]] = []

    def scan(directory: str, parts: tuple[str, ...]) -> None:
        """Collect the files below one directory as tuples of path parts."""
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    scan(entry.path, (*parts, entry.name))
                elif entry.is_file() and not entry.name.startswith("."):
                    found.append((*parts, entry.name))

    scan(str(folder), ())
    return [folder.joinpath(*parts) for parts in sorted(found)]


def folder_sha256(folder: Path, files: list[Path]) -> str:
    """One SHA-256 over every (relative path, file SHA-256) pair, in sorted order."""
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode())
        h.update(bytes.fromhex(file_sha256(p)))
    return h.hexdigest()


def signature(files: list[Path], relative_to: Path | None = None) -> str:
    """A cheap fingerprint of files: names (relative to a folder when given), sizes and modification times."""
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        name = p.relative_to(relative_to).as_posix() if relative_to is not None else p
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def mnist_files(raw: Path) -> list[Path]:
    """The MNIST idx files present in `raw`, sorted by name."""
    return [raw / name for name in sorted(MANIFEST["mnist-raw"]) if (raw / name).is_file()]


def _record_file() -> Path:
    """Where verified signatures are remembered across processes."""
    from gancnn.book.paths import artifacts_dir

    return artifacts_dir() / "local" / "data-verified.json"


def _known(sig: str) -> bool:
    """True when this signature was verified before (in this process or on disk)."""
    if sig in _verified:
        return True
    try:
        return sig in json.loads(_record_file().read_text())
    except (OSError, ValueError):
        return False


def _remember(sig: str) -> None:
    """Remember a verified signature (best effort: a read-only checkout just hashes again next time)."""
    _verified.add(sig)
    path = _record_file()
    try:
        known = set(json.loads(path.read_text())) if path.exists() else set()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(sorted(known | {sig})))
        tmp.replace(path)
    except (OSError, ValueError):
        pass


def verify_mnist_raw(raw: Path) -> str:
    """Check the four MNIST idx files by size and SHA-256; return the copy's checksum (of the four)."""
    expected = MANIFEST["mnist-raw"]
    files = [raw / name for name in sorted(expected)]
    for p in files:
        if not p.is_file():
            raise ManifestError(f"{p} is missing (MNIST needs {sorted(expected)})")
        size = p.stat().st_size
        if size != expected[p.name]["size"]:
            raise ManifestError(f"{p} has {size:,} bytes, expected {expected[p.name]['size']:,} (truncated or altered)")
    digest = hashlib.sha256("".join(expected[p.name]["sha256"] for p in files).encode()).hexdigest()
    sig = signature(files)
    if _known(sig):
        return digest
    for p in files:
        if file_sha256(p) != expected[p.name]["sha256"]:
            raise ManifestError(f"{p} differs from the original MNIST file (SHA-256 mismatch)")
    _remember(sig)
    return digest


def verify_image_folder(folder: Path, key: str, classes: tuple[str, ...]) -> str:
    """Check an ImageFolder split: every class folder with its full image count, and the content checksum."""
    expected = MANIFEST[key]
    files = image_files(folder)
    counts = {c: 0 for c in classes}
    for p in files:
        counts[p.parent.name] = counts.get(p.parent.name, 0) + 1
    short = {c: n for c, n in counts.items() if n != expected["per_class"]}
    if short:
        raise ManifestError(
            f"{folder}: class folders with the wrong number of images (expected {expected['per_class']:,} each): "
            + ", ".join(f"{c} {n:,}" for c, n in sorted(short.items()))
        )
    sig = signature(files)
    if _known(sig):
        return expected["sha256"]
    digest = folder_sha256(folder, files)
    if expected["sha256"] and digest != expected["sha256"]:
        raise ManifestError(
            f"{folder}: image bytes differ from the manifest (SHA-256 {digest[:12]}... expected "
            f"{expected['sha256'][:12]}...): some image was altered"
        )
    _remember(sig)
    return digest
