"""CIFAR models of the AdjointBackMap chapters: parameter counts from the source tables, shapes, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gancnn.adjoint import training as ct
from gancnn.models.resnet20 import FixupResNet20, ResNet20BN, ShortcutA
from gancnn.models.vgg7 import VGG7


def conv_params(c_in: int, c_out: int) -> int:
    """Weights of a 3x3 kernel without bias."""
    return 9 * c_in * c_out


VGG7_KERNELS = (
    conv_params(3, 32)
    + conv_params(32, 32)
    + conv_params(32, 64)
    + conv_params(64, 64)
    + conv_params(64, 96)
    + conv_params(96, 96)
)
RESNET_KERNELS = (
    conv_params(3, 32)
    + 6 * conv_params(32, 32)
    + conv_params(32, 64)
    + 5 * conv_params(64, 64)
    + conv_params(64, 96)
    + 5 * conv_params(96, 96)
)
BN_CHANNELS_RESNET = 32 + 6 * 32 + 6 * 64 + 6 * 96


def n_params(model: torch.nn.Module) -> int:
    """Count learnable parameters."""
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_source_tables() -> None:
    """Table A.1/A.2/B.1/B.4/B.5 kernels plus FC (96 x 10), multipliers, biases and BN affine parameters."""
    assert n_params(VGG7()) == VGG7_KERNELS + 960 == 204_576
    assert n_params(FixupResNet20(bias=False)) == RESNET_KERNELS + 960 + 9
    assert n_params(FixupResNet20(bias=True)) == RESNET_KERNELS + 960 + 9 + 37
    assert n_params(VGG7(batchnorm=True)) == VGG7_KERNELS + 960 + 2 * 384
    assert n_params(ResNet20BN()) == RESNET_KERNELS + 960 + 2 * BN_CHANNELS_RESNET
    assert n_params(VGG7(num_classes=100)) == VGG7_KERNELS + 9600


@pytest.mark.parametrize("name", ct.MODEL_NAMES)
def test_output_shapes_and_bias_free(name: str) -> None:
    """Every model maps (N, 3, H, W) to (N, classes); the v1 models carry no bias at all."""
    model = ct.build_model(name, 100).eval()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 100)
    biases = [n for n, _ in model.named_parameters() if n.endswith("bias")]
    if name in ("vgg7", "fixup-resnet20"):
        assert biases == []


def test_shortcut_option_a() -> None:
    """Subsample by two and zero-pad channels."""
    x = torch.randn(1, 32, 8, 8)
    y = ShortcutA(32, 64, 2)(x)
    assert y.shape == (1, 64, 4, 4)
    assert torch.equal(y[:, :32], x[:, :, ::2, ::2]) and torch.all(y[:, 32:] == 0)


def test_fixup_initialisation_zero_residuals() -> None:
    """Fixup starts with zero branch-final convs and a zero FC layer."""
    model = FixupResNet20()
    assert all(torch.all(b.conv2.weight == 0) for b in model.blocks)
    assert torch.all(model(torch.randn(2, 3, 32, 32)) == 0)


def test_source_schedules() -> None:
    """Epoch totals of tables 2.1, 3.1, 3.2."""
    totals = {k: sum(e for _, e in v[0]) for k, v in ct.SOURCE_SCHEDULES.items()}
    assert totals[("vgg7", "cifar10")] == 301 and totals[("fixup-resnet20", "cifar10")] == 201
    assert totals[("vgg7-bn", "cifar10")] == 501 and totals[("resnet20-fixup", "cifar10")] == 151
    assert totals[("vgg7-bn", "cifar100")] == 701 and totals[("resnet20-fixup", "cifar100")] == 121
    cfg = ct.source_config("vgg7")
    assert cfg.n_train == 45000 and cfg.n_val == 5000 and cfg.batch_size == 100 and cfg.l1 == 1e-4


def test_split_and_augment() -> None:
    """Train/validation indices are disjoint; augmentation keeps 32x32 and the normalisation."""
    cfg = ct.quick_config("vgg7", n_train=300, epochs=1, lr=0.1, n_val=100)
    tr, va = ct.split_indices(cfg, 1000)
    assert len(tr) == 300 and len(va) == 100 and not set(tr) & set(va)
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    out = ct.augment(x, torch.Generator().manual_seed(0))
    assert out.shape == (4, 3, 32, 32) and torch.isfinite(out).all()
    assert torch.allclose(
        ct.normalize(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8)).flatten(),
        (1 - torch.tensor(ct.SOURCE_MEAN)) / torch.tensor(ct.SOURCE_STD),
    )


def skip_without_cifar() -> None:
    """Skip a test that trains on real CIFAR-10 when the data root lacks it."""
    from gancnn import data

    try:
        data.load("cifar10", "test", transform="pil", download=False)
    except data.DataError:
        pytest.skip("CIFAR-10 is not in the data root")


def _tiny_cfg() -> ct.TrainConfig:
    """Two steps of 50 images: the smallest real training run."""
    cfg = ct.quick_config("vgg7", n_train=100, epochs=1, lr=0.05, n_val=50, n_test=50)
    return ct.TrainConfig(**{**cfg.__dict__, "batch_size": 50})


def test_trained_model_is_cached(tmp_path, monkeypatch) -> None:
    """A tiny real training run is stored and read back with identical weights."""
    skip_without_cifar()
    monkeypatch.setenv("GANCNN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("GANCNN_RUNS", str(tmp_path / "runs"))
    cfg = _tiny_cfg()
    model, rec = ct.trained_model("vgg7", "quick", cfg=cfg)
    again, rec2 = ct.trained_model("vgg7", "quick", cfg=cfg)
    assert rec["_cached"] is False and rec2["_cached"] is True
    assert rec["n_steps"] == 2 and 0 <= rec["test_acc"] <= 100
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    assert np.isfinite([h["loss"] for h in rec["history"]]).all()


def test_training_on_device_cpu_equals_the_default(tmp_path, monkeypatch) -> None:
    """device='cpu' trains exactly the weights of the default call (each run in its own checkpoint folder)."""
    skip_without_cifar()
    monkeypatch.setenv("GANCNN_RUNS", str(tmp_path / "default"))
    default = ct.train(_tiny_cfg(), progress=False)
    monkeypatch.setenv("GANCNN_RUNS", str(tmp_path / "cpu"))
    on_cpu = ct.train(_tiny_cfg(), progress=False, device="cpu")
    assert default["state_dict"].keys() == on_cpu["state_dict"].keys()
    for k, v in default["state_dict"].items():
        assert v.device.type == "cpu" and torch.equal(v, on_cpu["state_dict"][k]), k
    assert default["test_acc"] == on_cpu["test_acc"]


def test_cuda_without_a_gpu_is_refused_before_any_training(tmp_path, monkeypatch) -> None:
    """device='cuda' on a CPU-only machine: the one-line ParameterError, before data is read or a model built."""
    from gancnn.book.params import ParameterError
    from gancnn.reference import classifiers

    monkeypatch.setenv("GANCNN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("GANCNN_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def no_work(*args: object, **kwargs: object) -> None:
        """Stand-in for the data and model builders: reaching it means work started."""
        raise AssertionError("training started")

    monkeypatch.setattr(ct.data, "load", no_work)
    monkeypatch.setattr(ct, "build_model", no_work)
    fallback = classifiers.QuickFallback(n_train=100, epochs=1, lr=0.05, n_val=50, n_test=50)
    calls = [
        lambda: ct.train(_tiny_cfg(), progress=False, device="cuda"),
        lambda: ct.trained_model("vgg7", "quick", cfg=_tiny_cfg(), device="cuda"),
        lambda: ct.trained_model("vgg7", "quick", cfg=_tiny_cfg(), device=torch.device("cuda", 0)),
        lambda: classifiers.chapter_model("vgg7", "quick", seed=5, fallback=fallback, device="cuda"),
        lambda: classifiers.chapter_model("vgg7", "full", device="cuda"),
    ]
    for call in calls:
        with pytest.raises(ParameterError, match="torch sees no CUDA GPU") as caught:
            call()
        assert "\n" not in str(caught.value)


def test_precision_enters_the_key_only_when_not_fp32() -> None:
    """The stored fp32 results keep their keys; a bf16 run is a different result."""
    cfg = _tiny_cfg()
    assert "precision" not in ct.key_fields(cfg) and cfg.precision == "fp32"
    assert ct.key_fields(ct.TrainConfig(**{**cfg.__dict__, "precision": "bf16"}))["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision"):
        ct.TrainConfig("vgg7", precision="fp16")
