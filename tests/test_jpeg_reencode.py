"""Saving the CIFAR-10 copy once more as JPEG (the data-copy sensitivity runs): what it does to images and keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from gancnn import data
from gancnn.book import cache
from gancnn.reference import classifiers


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(peak_signal_noise_ratio(a.numpy(), b.numpy(), data_range=255))


def test_reencode_loses_more_detail_at_lower_quality(offline_data) -> None:
    """On real CIFAR-10 images: same shape and dtype, deterministic, PSNR falling with quality, and a second save at
    the same quality changing far less than the first (JPEG's quantisation grid is nearly a fixed point)."""
    ds = data.load("cifar10", "test", transform="pil")
    x, _ = data.to_tensors(ds, np.arange(200))
    q90, q50, q25 = (data.reencode_jpeg(x, q) for q in (90, 50, 25))
    assert q50.shape == x.shape and q50.dtype == torch.uint8
    assert torch.equal(q50, data.reencode_jpeg(x, 50))
    assert _psnr(x, q90) > _psnr(x, q50) > _psnr(x, q25) > 20.0
    assert not torch.equal(q25, x)
    again = data.reencode_jpeg(q50, 50)
    assert (again.float() - q50.float()).abs().mean() < 0.5 * (q50.float() - x.float()).abs().mean()


def test_reencode_of_a_smooth_image_at_quality_100_is_close() -> None:
    """A smooth colour ramp (8 levels a pixel) survives quality 100 within a few grey levels, about half a level on
    average: 4:2:0 averages chroma over 2 x 2 pixels, and nothing else is lost."""
    ramp = torch.linspace(0, 255, 32)
    img = torch.stack([ramp.expand(32, 32), ramp.expand(32, 32).T, torch.full((32, 32), 128.0)]).round()
    out = data.reencode_jpeg(img.to(torch.uint8)[None], 100)
    error = (out.float() - img).abs()
    assert error.max() <= 6 and error.mean() < 1.0


def test_reencode_rejects_bad_arguments() -> None:
    x = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    for quality in (0, 101, -5):
        with pytest.raises(ValueError, match="quality"):
            data.reencode_jpeg(x, quality)
    with pytest.raises(ValueError, match="uint8"):
        data.reencode_jpeg(x.float(), 50)
    with pytest.raises(ValueError, match="uint8"):
        data.reencode_jpeg(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), 50)


def test_quality_keys_only_when_set() -> None:
    """jpeg_quality = 0 leaves every stored schedule's key as it was; a quality makes its own key and checkpoint."""
    base = classifiers.JPEG_SENSITIVITY_CONFIGS[0, 0]
    assert "jpeg_quality" not in classifiers.schedule_fields(base)
    keys = {cache.config_key(classifiers.schedule_fields(c)) for c in classifiers.JPEG_SENSITIVITY_CONFIGS.values()}
    assert len(keys) == len(classifiers.JPEG_SENSITIVITY_CONFIGS)
    assert classifiers.schedule_fields(classifiers.JPEG_SENSITIVITY_CONFIGS[50, 0])["jpeg_quality"] == 50
    assert classifiers.schedule_fields(classifiers.JPEG_SENSITIVITY_CONFIGS[50, 2])["seed"] == 2
    paths = {classifiers.checkpoint_path(c) for c in classifiers.JPEG_SENSITIVITY_CONFIGS.values()}
    assert len(paths) == len(classifiers.JPEG_SENSITIVITY_CONFIGS)


def _table(accuracies: list[float], seeds: int = 1, spread: float = 0.0) -> pd.DataFrame:
    """A study table as `jpeg_sensitivity_table` builds it; each re-encoded row's paired changes span +- `spread`."""
    rows = [
        {"images": label, "PSNR vs as loaded (dB)": psnr, "seeds": seeds, "test accuracy %": acc, "epochs": 30}
        for label, psnr, acc in zip(
            ["the jpeg-q75 copy as loaded", "saved again at JPEG quality 50", "saved again at JPEG quality 25"],
            [float("inf"), 31.25, 27.5],
            accuracies,
        )
    ]
    table = pd.DataFrame(rows).set_index("images")
    table["lowest %"] = table["test accuracy %"] - spread
    table["highest %"] = table["test accuracy %"] + spread
    table["change (points)"] = (table["test accuracy %"] - table["test accuracy %"].iloc[0]).round(2)
    table["smallest change"] = table["change (points)"] - np.where(np.arange(len(table)) > 0, spread, 0.0)
    table["largest change"] = table["change (points)"] + np.where(np.arange(len(table)) > 0, spread, 0.0)
    return table


def test_jpeg_sensitivity_sentence_states_each_change_and_places_the_mildest_among_the_gaps() -> None:
    gaps = {"vgg7": -0.5, "vgg7-bn": 2.0, "resnet20-bn": 1.6, "fixup": 3.3}
    text = classifiers.jpeg_sensitivity_sentence(_table([88.0, 87.7, 86.9]), gaps)
    assert "reaches 88.00% after 30 epochs" in text
    assert "JPEG quality 50 (31.2 dB): 87.70% (-0.30 points; one seed)" in text
    assert "JPEG quality 25 (27.5 dB): 86.90% (-1.10 points; one seed)" in text
    assert "The mildest re-encoding (JPEG quality 50) costs 0.30 points" in text
    assert "3 of the 4 reference classifiers fall short of the source's accuracy, by 1.60 to 3.30 points" in text
    assert text.endswith("the cost is smaller than every one of these gaps.")
    within = classifiers.jpeg_sensitivity_sentence(_table([88.0, 86.0, 85.0]), gaps)
    assert "costs 2.00 points" in within and within.endswith("the cost is within their range.")
    beyond = classifiers.jpeg_sensitivity_sentence(_table([88.0, 84.0, 80.0]), gaps)
    assert beyond.endswith("the cost is larger than every one of them.")
    gain = classifiers.jpeg_sensitivity_sentence(_table([88.0, 88.2, 88.1]), gaps)
    assert (
        "(+0.20 points; one seed)" in gain
        and "gains 0.20 points" in gain
        and gain.endswith("smaller than every one of these gaps.")
    )
    assert "not stored yet" in classifiers.jpeg_sensitivity_sentence(None, gaps)
    assert classifiers.jpeg_sensitivity_sentence(_table([88.0, 87.7, 86.9]), {"vgg7": -0.5}).endswith(
        "(-1.10 points; one seed)."
    )


def test_the_sentences_give_the_spread_over_paired_seeds() -> None:
    gaps = {"vgg7": -0.5, "vgg7-bn": 2.0, "resnet20-bn": 1.6, "fixup": 3.3}
    text = classifiers.jpeg_sensitivity_sentence(_table([88.0, 86.0, 85.0], seeds=3, spread=0.25), gaps)
    assert (
        "reaches 88.00% after 30 epochs (mean of 3 seeds, from 87.75 to 88.25); saved once more at JPEG quality 50"
        in text
    )
    assert "86.00% (-2.00 points; -2.25 to -1.75 over 3 seeds)" in text
    assert "costs 2.00 points (1.75 to 2.25 over 3 seeds); 3 of the 4" in text
    summary = classifiers.jpeg_cost_summary(_table([88.0, 86.0, 85.0], seeds=3, spread=0.25), gaps)
    assert summary.startswith("Saving the copy's images once more at quality 50 costs a VGG7-BN 2.00 points of test ")
    assert "accuracy (1.75 to 2.25 over 3 seeds), comparable to these gaps" in summary


def test_the_table_pairs_each_seed_with_the_same_seed_as_loaded(monkeypatch) -> None:
    """Mean accuracies per quality; changes paired seed by seed; a seed missing as loaded is left out of its quality."""
    accuracy = {(0, 0): 86.0, (0, 1): 85.0, (50, 0): 84.0, (50, 1): 83.5, (50, 2): 70.0, (25, 0): 80.0}

    def fake_stored(name: str, cfg: classifiers.ReferenceConfig) -> dict | None:
        acc = accuracy.get((cfg.jpeg_quality, cfg.seed))
        return None if acc is None else {"test_acc": acc, "train_seconds_total": 600.0, "data_copy": "jpeg-q75"}

    images = torch.arange(3 * 8 * 8, dtype=torch.uint8).reshape(1, 3, 8, 8)
    monkeypatch.setattr(classifiers, "stored", fake_stored)

    def shifted_images(dataset: str, split: str, quality: int = 0) -> tuple[torch.Tensor, None, None]:
        return images + (quality > 0), None, None

    monkeypatch.setattr(classifiers, "cached_images", shifted_images)
    table = classifiers.jpeg_sensitivity_table()
    assert list(table["seeds"]) == [2, 2, 1]
    assert list(table["test accuracy %"]) == [85.5, 83.75, 80.0]
    assert list(table["lowest %"]) == [85.0, 83.5, 80.0] and list(table["highest %"]) == [86.0, 84.0, 80.0]
    assert list(table["change (points)"]) == [0.0, -1.75, -6.0]
    assert list(table["smallest change"]) == [0.0, -2.0, -6.0] and list(table["largest change"]) == [0.0, -1.5, -6.0]
    assert list(table["training time, all seeds (min)"]) == [20.0, 20.0, 10.0]
    view = classifiers.jpeg_sensitivity_view(table)
    assert list(view.index) == ["jpeg-q75 as loaded", "re-saved at q50", "re-saved at q25"]
    assert view.loc["re-saved at q50", "accuracy % (range)"] == "83.50 to 84.00"
    assert view.loc["re-saved at q50", "change (range)"] == "-2.00 to -1.50"
    assert view.loc["re-saved at q25", "change (range)"] == "one seed"
    assert view.loc["jpeg-q75 as loaded", "change (range)"] == "reference"
    accuracy.pop((0, 0))
    assert list(classifiers.jpeg_sensitivity_table()["seeds"]) == [1, 1]  # quality 25 had seed 0 only: no pair left


def test_jpeg_cost_summary_compares_the_mildest_cost_with_the_shortfalls_only() -> None:
    gaps = {"vgg7": -0.5, "vgg7-bn": 2.0, "resnet20-bn": 1.6, "fixup": 3.3}
    comparable = classifiers.jpeg_cost_summary(_table([88.0, 86.0, 85.0]), gaps)
    assert comparable.startswith("Saving the copy's images once more at quality 50 costs a VGG7-BN 2.00 points")
    assert "comparable to these gaps (1.60 to 3.30 points)" in comparable
    assert classifiers.jpeg_cost_summary(_table([88.0, 87.7, 86.9]), gaps).endswith("less than any of these gaps.")
    assert "comparable" in classifiers.jpeg_cost_summary(_table([88.0, 84.0, 80.0]), gaps)
    assert classifiers.jpeg_cost_summary(None, gaps) == ""
    assert classifiers.jpeg_cost_summary(_table([88.0, 86.0, 85.0]), {"vgg7": -0.5}) == ""
    placed = classifiers.mildest_jpeg_cost(_table([88.0, 86.0, 85.0]), gaps)
    assert placed is not None and placed.shortfalls == [1.6, 2.0, 3.3] and placed.cost == 2.0
