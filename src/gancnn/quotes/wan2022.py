"""Numbers quoted from Qing Wan's dissertation on AdjointBackMap (wan2022dissertation)."""

from __future__ import annotations

from gancnn.adjoint.training import SOURCE_SCHEDULES, source_config
from gancnn.models.resnet20 import LEAKY_SLOPE
from gancnn.quotes._quote import Quote

SOURCE = "wan2022dissertation"


def _epochs(name: str, dataset: str = "cifar10") -> int:
    """Total epochs of a source schedule (the sum of its learning-rate intervals)."""
    return sum(epochs for _, epochs in SOURCE_SCHEDULES[(name, dataset)][0])


def _accuracy(name: str, dataset: str = "cifar10") -> float:
    """The test accuracy (%) the source reports for a network."""
    return SOURCE_SCHEDULES[(name, dataset)][1]


_SOURCE_RUN = source_config("vgg7")  # the source's protocol (batch, split), shared by its five networks

QUOTES: dict[str, Quote] = {
    **{
        f"{name.replace('-', '_')}_epochs": Quote(
            SOURCE, "tables 2.1, 3.1, 3.2", f"training epochs of {name}", _epochs(name)
        )
        for name in ("vgg7", "fixup-resnet20", "vgg7-bn", "resnet20-bn", "resnet20-fixup")
    },
    **{
        f"{name.replace('-', '_')}_cifar100_epochs": Quote(
            SOURCE, "table 3.2", f"training epochs of {name} on CIFAR-100", _epochs(name, "cifar100")
        )
        for name in ("vgg7-bn", "resnet20-bn", "resnet20-fixup")
    },
    **{
        f"{name.replace('-', '_')}_test_acc": Quote(
            SOURCE, "tables 2.1, 3.1", f"test accuracy (%) of {name}", _accuracy(name), f"{_accuracy(name)}%"
        )
        for name in ("vgg7", "fixup-resnet20", "vgg7-bn", "resnet20-bn", "resnet20-fixup")
    },
    "batch_size": Quote(
        SOURCE, "sections 2.5.1.5, 3.5.1.3", "mini-batch size of the source's training runs", _SOURCE_RUN.batch_size
    ),
    "n_train": Quote(
        SOURCE,
        "sections 2.5.1.1, 3.5.1.1",
        "CIFAR training images used for training (the rest of the 50k validate)",
        _SOURCE_RUN.n_train,
        f"{_SOURCE_RUN.n_train // 1000}k",
    ),
    "n_val": Quote(
        SOURCE,
        "sections 2.5.1.1, 3.5.1.1",
        "CIFAR training images held out for validation",
        _SOURCE_RUN.n_val,
        f"{_SOURCE_RUN.n_val // 1000}k",
    ),
    "leaky_slope": Quote(
        SOURCE,
        "section 2.4 (after eq. 2.12)",
        "slope of TensorFlow's default leaky ReLU, used by ResNet20",
        LEAKY_SLOPE,
    ),
    "vgg7_bn_xb": Quote(SOURCE, "table B.2", "entries of x_b for VGG7 with batch norm, (32 + 64 + 96) x 2", 384),
    "resnet20_bn_xb": Quote(SOURCE, "table B.3", "entries of x_b for ResNet20, (32 + 64 + 96) x 6", 1152),
    "resnet20_fixup_xb": Quote(SOURCE, "table B.3", "entries of x_b (scalar biases) for ResNet20-Fixup", 37),
    "bim_step": Quote(SOURCE, "section 4.2.1", "step factor of its BIM attacks, on normalised inputs", 0.04),
    "bim_reference_factor": Quote(
        SOURCE, "section 4.2.1", "step factor of the reference attack [2] (Goodfellow et al.), in pixel units", 0.007
    ),
    "input_std": Quote(
        SOURCE, "section 4.2.1", "approximate channel standard deviation of the input normalisation", 0.2
    ),
}
