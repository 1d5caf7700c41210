"""Colourization: network shapes and weight counts, colour clusters, targets, training with resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from gancnn.coursework import colorization as col
from gancnn.data import DataCopy
from gancnn.models import colorization_nets as nets


@pytest.mark.parametrize("name", sorted(nets.ARCHITECTURES))
@pytest.mark.parametrize("size", [32, 64])
def test_output_shape(name, size):
    model = nets.build(name, kernel=3, num_filters=8, num_colours=24)
    assert model(torch.zeros(2, 1, size, size)).shape == (2, 24, size, size)


@pytest.mark.parametrize("name", ["PoolUpsampleNet", "ConvTransposeNet"])
@pytest.mark.parametrize("kernel,nf,nc,nic", [(3, 32, 24, 1), (5, 8, 10, 1), (3, 6, 5, 3)])
def test_conv_weight_count_closed_form(name, kernel, nf, nc, nic):
    """k^2 (N_IC N_F + 2 N_F^2 + 2 N_F^2 + N_F N_C + N_C^2) (eq-opt-colour-weights), with N_IC = 3 too."""
    model = nets.build(name, kernel=kernel, num_filters=nf, num_colours=nc, num_in_channels=nic)
    weights = sum(
        m.weight.numel() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
    )
    assert weights == nets.conv_weight_count(kernel, nf, nc, nic)
    assert model(torch.zeros(1, nic, 8, 8)).shape == (1, nc, 8, 8)


def test_build_rejects_unknown_and_even_kernel():
    with pytest.raises(ValueError):
        nets.build("ResNet")
    with pytest.raises(ValueError):
        nets.PoolUpsampleNet(kernel=4)


def test_grey_is_channel_mean():
    rgb = torch.rand(3, 3, 4, 4)
    assert torch.allclose(col.to_grey(rgb)[:, 0], (rgb[:, 0] + rgb[:, 1] + rgb[:, 2]) / 3)


def test_nearest_centre_matches_sklearn_predict():
    rgb = torch.rand(5, 3, 8, 8)
    centres = col.fit_colour_centres(rgb, n_clusters=6, n_pixels=320, seed=0)
    labels = col.nearest_centre(rgb, centres, chunk=2)
    km = KMeans(n_clusters=6, n_init=1).fit(centres.double().numpy())  # any fitted model; replace its centres
    km.cluster_centers_ = centres.double().numpy()
    expected = km.predict(rgb.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy())
    assert np.array_equal(labels.flatten().numpy(), expected)
    painted = col.centres_to_image(labels, centres)
    assert torch.equal(col.nearest_centre(painted, centres), labels)


def _synthetic(n: int = 40, size: int = 16, k: int = 4) -> col.ColourData:
    """Images whose colour cluster is a function of the grey level, so the task is learnable."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.1, 0.1, 0.1], [0.8, 0.2, 0.2], [0.2, 0.8, 0.8], [0.9, 0.9, 0.9]])[:k]
    labels = torch.randint(0, k, (n, size // 4, size // 4), generator=g).repeat_interleave(4, 1).repeat_interleave(4, 2)
    rgb = col.centres_to_image(labels, centres)
    copy = DataCopy("synthetic", "none", "test data", "-")
    return col.ColourData(col.to_grey(rgb), labels, col.to_grey(rgb[:10]), labels[:10], rgb[:10], centres, copy)


def test_training_learns_and_resumes_exactly(tmp_path):
    cd = _synthetic()

    def fresh() -> torch.nn.Module:
        torch.manual_seed(0)
        return nets.build("ConvTransposeNet", num_filters=8, num_colours=4)

    full = col.train(fresh(), cd, epochs=6, batch_size=10, lr=1e-2, progress=False)
    assert len(full) == 6 and full[-1]["val_loss"] < full[0]["val_loss"]
    assert full[-1]["val_acc"] > 0.5
    ckpt = tmp_path / "c.pt"
    col.train(fresh(), cd, epochs=3, batch_size=10, lr=1e-2, progress=False, checkpoint=ckpt)
    resumed = col.train(fresh(), cd, epochs=6, batch_size=10, lr=1e-2, progress=False, checkpoint=ckpt)
    for a, b in zip(full, resumed):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)


def test_evaluate_perfect_model_scores_one():
    cd = _synthetic()

    class Oracle(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            labels = (x[:, 0, :, :, None] - cd.centres.mean(dim=1)).abs().argmin(dim=-1)
            return 50.0 * torch.nn.functional.one_hot(labels, len(cd.centres)).permute(0, 3, 1, 2).float()

    loss, acc = col.evaluate(Oracle(), cd.grey_val, cd.target_val)
    assert acc == 1.0 and loss < 1e-6


def test_prepare_horses(offline_data):
    cd = col.prepare(n_train=20, n_val=10, n_clusters=5, kmeans_pixels=2000)
    assert cd.grey_train.shape == (20, 1, 32, 32) and cd.target_val.shape == (10, 32, 32)
    assert cd.centres.shape == (5, 3) and int(cd.target_train.max()) < 5
    assert cd.data_copy.dataset == "cifar10"
