"""gancnn.data: offline copies, provenance, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gancnn import data


def test_mnist_original(offline_data: Path) -> None:
    ds = data.load("mnist", "test")
    assert len(ds) == 10_000 and ds.data_copy.copy == "original"
    assert ds.data_copy.path == "MNIST/raw"  # relative to the data root: provenance holds no machine paths
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and 0.0 <= x.min() and x.max() <= 1.0 and isinstance(y, int)


def test_cifar10_jpeg_copy_in_label_order(offline_data: Path) -> None:
    ds = data.load("cifar10", "train", transform="gan")
    assert len(ds) == 50_000 and ds.data_copy.copy == "jpeg-q75" and ds.data_copy.path == "cifar10-jpeg/train"
    assert tuple(ds.classes) == data.CIFAR10_CLASSES
    x, y = ds[0]
    assert x.shape == (3, 32, 32) and x.min() >= -1.0 and x.max() <= 1.0
    counts = np.bincount(data.targets(ds))
    assert counts.tolist() == [5000] * 10


def test_select_and_to_tensors(offline_data: Path) -> None:
    ds = data.load("cifar10", "test")
    idx = data.select(ds, classes=[7], per_class=20, seed=1)
    x, y = data.to_tensors(ds, idx)
    assert x.dtype == torch.uint8 and x.shape == (20, 3, 32, 32) and (y == 7).all()
    tensor_first = ds[int(idx[0])][0]
    assert torch.allclose(x[0].float() / 255, tensor_first, atol=1e-6)
    np.testing.assert_array_equal(idx, data.select(ds, classes=[7], per_class=20, seed=1))
    with pytest.raises(data.DataError, match="only 1000 exist"):
        data.select(ds, classes=[0], per_class=5000)
    with pytest.raises(data.DataError, match="out of range"):
        data.select(ds, classes=[10])


def test_to_tensors_gathers_tensor_backed_sets_like_the_per_image_path(offline_data: Path) -> None:
    """MNIST's one-gather route gives the same uint8 images and labels as decoding image by image."""
    ds = data.load("mnist", "test")
    idx = np.array([5, 0, 9999, 17])
    x, y = data.to_tensors(ds, idx)
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.uint8
    per_image = np.stack([data._raw_image(ds, int(i)) for i in idx])
    np.testing.assert_array_equal(x.permute(0, 2, 3, 1).numpy(), per_image)
    np.testing.assert_array_equal(y.numpy(), data.targets(ds)[idx])


def test_normalize_transform_statistics(offline_data: Path) -> None:
    ds = data.load("mnist", "train", transform="normalize")
    x = torch.stack([ds[i][0] for i in range(2000)])
    assert abs(x.mean().item()) < 0.1 and abs(x.std().item() - 1) < 0.1


def test_missing_dataset_names_root_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCNN_DATA", str(tmp_path))
    monkeypatch.setenv("GANCNN_DOWNLOAD", "0")
    for name in data.NAMES:
        with pytest.raises(data.DataError) as err:
            data.load(name)
        assert str(tmp_path) in str(err.value) and "GANCNN_DATA" in str(err.value)


def test_relative_root_resolves_against_project(monkeypatch: pytest.MonkeyPatch, repo_root: Path) -> None:
    monkeypatch.setenv("GANCNN_DATA", "somewhere")
    assert data.data_root() == repo_root / "somewhere"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "imagenet"}, "unknown data set"),
        ({"name": "mnist", "split": "val"}, "unknown split"),
        ({"name": "mnist", "transform": "sharpen"}, "unknown transform"),
    ],
)
def test_unknown_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(data.DataError, match=message):
        data.load(**kwargs)


def test_wrong_imagefolder_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    folder = tmp_path / "cifar10-jpeg" / "train" / "cats"
    folder.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(folder / "a.jpg")
    monkeypatch.setenv("GANCNN_DATA", str(tmp_path))
    monkeypatch.setenv("GANCNN_DOWNLOAD", "0")
    with pytest.raises(data.DataError, match="expected the CIFAR-10 classes"):
        data.load("cifar10")
