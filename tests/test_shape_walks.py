"""Tests for the shape walks: ResNet-50 (32x32), the U-Net, and the coursework CNN/FC counts."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gancnn.conv.arithmetic import conv_matrix
from gancnn.models import coursework_cnn, resnet50_cifar, unet
from gancnn.models.colorization_nets import PoolUpsampleNet


def test_resnet50_matches_torchvision() -> None:
    """The notes' ResNet-50 loads torchvision's weights and computes the same function and shapes."""
    torch.manual_seed(0)
    net = resnet50_cifar.ResNet50Cifar().eval()
    tv = resnet50_cifar.torchvision_counterpart().eval()
    net.load_state_dict(tv.state_dict(), strict=True)
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in tv.parameters()) == 23_500_352
    x = torch.randn(1, 3, 32, 32)
    shapes = []
    with torch.no_grad():
        z = x
        for _, stage in net.stages():
            z = stage(z)
            shapes.append(tuple(z.shape[1:]))
        assert torch.allclose(net(x), tv(x), atol=1e-5)
    assert shapes == [(64, 32, 32), (256, 32, 32), (512, 16, 16), (1024, 8, 8), (2048, 4, 4), (2048, 1, 1)]


def test_unet_shape_walk() -> None:
    """Running the U-Net (meta device) yields the shapes of the notes."""
    with torch.device("meta"):
        net = unet.UNet().eval()
        steps = net.walk(torch.empty(1, 3, 32, 32), torch.empty(1, unet.CONTEXT_DIM))
    shapes = {name.split(" ")[0]: tuple(t.shape[1:]) for name, t in steps}
    assert len(steps) == 29
    assert shapes["z12"] == (1024, 4, 4) and shapes["z10"] == (256, 4, 4) and shapes["z4"] == (64, 16, 16)
    assert shapes["ȳ10"] == (256, 4, 4) and shapes["y10"] == (256, 8, 8) and shapes["y7"] == (128, 16, 16)
    assert shapes["y1"] == (64, 32, 32) and shapes["output"] == (3, 32, 32)


def test_small_unet_runs_on_real_tensors() -> None:
    """A narrow U-Net of the same layout runs on CPU and keeps the image shape."""
    torch.manual_seed(0)
    net = unet.UNet(channels=(32, 32, 64, 64)).eval()
    with torch.no_grad():
        y = net(torch.randn(2, 3, 32, 32), torch.randn(2, unet.CONTEXT_DIM))
    assert y.shape == (2, 3, 32, 32) and torch.isfinite(y).all()


def test_coursework_counts() -> None:
    """Neurons and parameters (no biases) equal the coursework's 61,632 / 21,024 and 4,992 / 10,063,872."""
    cnn = coursework_cnn.layer_counts(coursework_cnn.small_cnn())
    fc = coursework_cnn.layer_counts(coursework_cnn.small_fc())
    assert (sum(r["neurons"] for r in cnn), sum(r["parameters"] for r in cnn)) == (61_632, 21_024)
    assert (sum(r["neurons"] for r in fc), sum(r["parameters"] for r in fc)) == (4_992, 10_063_872)


def test_sharpening_is_identity_minus_laplacian() -> None:
    """The sharpening filter equals x minus the 5-point Laplacian and keeps the size with padding 1."""
    torch.manual_seed(0)
    x = torch.rand(2, 3, 9, 9, dtype=torch.float64)
    sharp = F.conv2d(x, coursework_cnn.sharpening_kernel(3).double(), padding=1, groups=3)
    lap = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float64).expand(3, 1, 3, 3)
    assert sharp.shape == x.shape
    assert torch.allclose(sharp, x - F.conv2d(x, lap, padding=1, groups=3), atol=1e-12)


def test_pool_upsample_outputs_and_connections() -> None:
    """Hook counts of PoolUpsampleNet equal the coursework's closed forms (k=3, NF=32, NC=24, NIC=1)."""
    nf, nc = 32, 24
    for px, outputs in ((32, 3520 * nf + 4352 * nc), (64, 14080 * nf + 17408 * nc)):
        rows = coursework_cnn.leaf_counts(PoolUpsampleNet(3, nf, nc, 1), (1, px, px))
        assert sum(r["outputs"] for r in rows) == outputs
        connections = 9 * (
            px * px * nf
            + (px // 2) ** 2 * 2 * nf * nf
            + (px // 4) ** 2 * 2 * nf * nf
            + (px // 2) ** 2 * nf * nc
            + px * px * nc * nc
        )
        assert sum(r["connections"] for r in rows) == connections
        assert sum(r["weights"] for r in rows) == 9 * (nf + 4 * nf * nf + nf * nc + nc * nc)


def test_taps_inside_counts_nonzeros_of_the_conv_matrix() -> None:
    """Connections on real pixels are the structural non-zeros of V."""
    for size, kernel, stride, padding in ((7, 3, 2, 1), (6, 4, 1, 2), (5, 3, 1, 0), (8, 5, 3, 2)):
        matrix = conv_matrix(torch.ones(2, 3, kernel, kernel), (3, size, size), stride, padding)
        inside = coursework_cnn.taps_inside(size, kernel, stride, padding) ** 2 * 3 * 2
        assert int((matrix != 0).sum()) == inside
