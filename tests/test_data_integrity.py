"""Data faults named as such: truncated, altered or incomplete copies, stalled downloads, bad timeouts."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from gancnn import data, manifest


@pytest.fixture
def private_copy(offline_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of MNIST/raw and the CIFAR-10 JPEG test split as the data root (verification cache isolated)."""
    root = tmp_path / "data"
    shutil.copytree(offline_data / "MNIST" / "raw", root / "MNIST" / "raw")
    shutil.copytree(offline_data / "cifar10-jpeg" / "test", root / "cifar10-jpeg" / "test")
    monkeypatch.setenv("GANCNN_DATA", str(root))
    monkeypatch.setenv("GANCNN_DOWNLOAD", "0")
    monkeypatch.setenv("GANCNN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setattr(manifest, "_verified", set())
    return root


def test_intact_copies_load_and_record_their_checksums(private_copy: Path) -> None:
    mnist, cifar = data.load("mnist", "test"), data.load("cifar10", "test")
    assert len(mnist) == 10_000 and len(cifar) == 10_000
    assert cifar.data_copy.sha256 == manifest.MANIFEST["cifar10-jpeg/test"]["sha256"]
    assert len(mnist.data_copy.sha256) == 64
    assert data.load("cifar10", "test").data_copy.as_dict()["sha256"] == cifar.data_copy.sha256  # signature cache


def test_truncated_mnist_file_is_named_not_reported_missing(private_copy: Path) -> None:
    path = private_copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(data.DataError, match=r"t10k-images-idx3-ubyte has 1,000 bytes, expected 7,840,016"):
        data.load("mnist", "test")


def test_a_flipped_byte_in_one_cifar_image_is_caught(private_copy: Path) -> None:
    image = sorted((private_copy / "cifar10-jpeg" / "test" / "cat").iterdir())[5]
    raw = bytearray(image.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # still decodes: JPEG tolerates it, so only the checksum can tell
    image.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="image bytes differ from the manifest"):
        data.load("cifar10", "test")


def test_a_class_folder_with_missing_images_is_named(private_copy: Path) -> None:
    for image in sorted((private_copy / "cifar10-jpeg" / "test" / "dog").iterdir())[:7]:
        image.unlink()
    with pytest.raises(data.DataError, match="dog 993"):
        data.load("cifar10", "test")


def test_manifest_off_accepts_a_changed_copy_as_unverified(private_copy: Path, monkeypatch) -> None:
    next(iter(sorted((private_copy / "cifar10-jpeg" / "test" / "dog").iterdir()))).unlink()
    monkeypatch.setenv("GANCNN_DATA_MANIFEST", "off")
    ds = data.load("cifar10", "test")
    assert len(ds) == 9_999 and ds.data_copy.sha256 == ""
    assert ds.data_copy.copy.startswith("jpeg-q75+unverified-") and "not checked" in ds.data_copy.description
    mnist = data.load("mnist", "test").data_copy
    assert mnist.copy.startswith("original+unverified-") and mnist.sha256 == ""


def _alter(image: Path) -> None:
    """Re-encode one JPEG with its top-left pixels inverted (a valid image with other pixels)."""
    from PIL import Image, ImageOps

    with Image.open(image) as im:
        pixels = im.convert("RGB")
    pixels.paste(ImageOps.invert(pixels.crop((0, 0, 8, 8))), (0, 0))
    pixels.save(image, format="JPEG", quality=75)


def test_results_on_changed_data_never_share_the_verified_copys_cache_key(private_copy: Path, monkeypatch) -> None:
    """Statistics of an altered copy (accepted with the manifest off) are recomputed under their own key."""
    from gancnn.book import cache

    calls: list[str] = []

    def pixel_sum() -> float:
        """The statistic of the chapter's pipeline page, on the copy loaded now."""
        ds = data.load("cifar10", "test", transform="pil")
        calls.append(ds.data_copy.copy)
        x, _ = data.to_tensors(ds, list(range(1000)))
        return float(x.double().sum())

    def statistic() -> float:
        """The cached statistic, keyed by the copy's name as every chapter keys it."""
        copy = data.load("cifar10", "test", transform="pil").data_copy.copy
        return cache.cached("quick", "pixel-sum", {"copy": copy}, lambda: {"sum": pixel_sum()})["sum"]

    clean = statistic()
    assert calls == ["jpeg-q75"]
    images = sorted((private_copy / "cifar10-jpeg" / "test" / "airplane").iterdir())  # the first 1,000 images
    _alter(images[0])
    with pytest.raises(data.DataError, match="image bytes differ"):  # strict: refused outright
        statistic()
    monkeypatch.setenv("GANCNN_DATA_MANIFEST", "off")
    changed = statistic()
    assert len(calls) == 2 and calls[1].startswith("jpeg-q75+unverified-")
    assert changed != clean  # a real recomputation on the altered pixels, not the clean copy's entry
    assert statistic() == changed and len(calls) == 2  # the altered copy's own entry is reused
    _alter(images[1])  # a second change: yet another key
    statistic()
    assert len(calls) == 3 and calls[2].startswith("jpeg-q75+unverified-") and calls[2] != calls[1]


@pytest.fixture
def stalled_server() -> Iterator[str]:
    """The URL of a loopback server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: [accepted.append(server.accept()[0]) for _ in range(4)], daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    finally:
        server.close()


def test_a_stalled_download_times_out_with_a_clear_error(
    stalled_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts the connection and never answers: the download gives up after the timeout."""
    monkeypatch.setattr(data.datasets.MNIST, "mirrors", [stalled_server])
    monkeypatch.setenv("GANCNN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("GANCNN_DOWNLOAD_TIMEOUT", "0.5")
    start = time.monotonic()
    with pytest.raises(data.DataError, match="download failed"):
        data.load("mnist", "test", download=True)
    assert time.monotonic() - start < 30
    assert socket.getdefaulttimeout() is None  # the process-wide default is restored


def test_a_stalled_imagenet_weights_download_times_out(
    stalled_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ResNet-50 weights go through torch.hub's real urllib download, with the same timeout and a one-line error."""
    from gancnn.models import resnet50_imagenet as r50

    real_download = torch.hub.download_url_to_file
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # an empty hub cache
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, *a, **k: real_download(stalled_server, *a, **k))
    monkeypatch.setenv("GANCNN_DOWNLOAD", "1")
    monkeypatch.setenv("GANCNN_DOWNLOAD_TIMEOUT", "0.5")
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"timed out: no data for 0.5 s \(GANCNN_DOWNLOAD_TIMEOUT\)") as caught:
        r50.load_resnet50("imagenet")
    assert "\n" not in str(caught.value)
    _, text = r50.load_resnet50("auto")  # auto falls back to random weights and says why
    assert "RANDOM" in text and "timed out" in text
    assert time.monotonic() - start < 30
    assert socket.getdefaulttimeout() is None


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_bad_download_timeout_is_refused(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCNN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("GANCNN_DOWNLOAD_TIMEOUT", value)
    with pytest.raises(data.DataError, match="GANCNN_DOWNLOAD_TIMEOUT must be a positive number"):
        data.load("mnist", "test", download=True)


def test_image_files_lists_what_rglob_lists_in_the_same_order(tmp_path: Path) -> None:
    """The fast listing equals sorted(rglob files): hidden files out, nested folders and awkward names in order."""
    root = tmp_path / "split"
    for rel in ("cat/1.jpg", "cat/10.jpg", "cat/2.jpg", "cat-b/0.jpg", "cat/.hidden.jpg", "a/b/c.jpg", ".dot/x.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    (root / "empty").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "y.jpg").write_bytes(b"y")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    want = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    got = manifest.image_files(root)
    assert got == want
    assert [p.relative_to(root).as_posix() for p in got][:3] == [".dot/x.jpg", "a/b/c.jpg", "cat/1.jpg"]
