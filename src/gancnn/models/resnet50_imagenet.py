"""torchvision's ImageNet ResNet-50 as a representation map (section 5 of the GAN-math source).

Pretrained ImageNet weights are used when they are in the torch hub cache or can be downloaded;
otherwise the network keeps torchvision's random initialisation, and `load_resnet50` says which.
A download gives up after `GANCNN_DOWNLOAD_TIMEOUT` seconds without data (`gancnn.data.download_deadline`).
"""

from __future__ import annotations

import math
import os
import urllib.error
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from gancnn.data import download_deadline

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_CHOICES = ("auto", "imagenet", "random")


def _without_home(text: str) -> str:
    """Replace the user's home folder by ~ (no machine paths in built pages)."""
    return text.replace(os.path.expanduser("~"), "~")


def _weights_reachable(enum: ResNet50_Weights) -> bool:
    """True when the weights are in the torch hub cache or downloads are allowed (GANCNN_DOWNLOAD)."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / enum.url.rsplit("/", 1)[-1]
    allowed = os.environ.get("GANCNN_DOWNLOAD", "1").strip().lower() not in ("0", "false", "no", "")
    return cached.is_file() or allowed


def _timed_out(exc: BaseException) -> bool:
    """True for a socket timeout, bare or wrapped by urllib."""
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, TimeoutError)
    )


def load_resnet50(
    weights: str = "auto", enum: ResNet50_Weights = ResNet50_Weights.IMAGENET1K_V1
) -> tuple[nn.Module, str]:
    """Return (ResNet-50 in eval mode, description of its weights); 'auto' falls back to random weights."""
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {WEIGHT_CHOICES}, got {weights!r}")
    if weights != "random" and not _weights_reachable(enum):
        if weights == "imagenet":
            raise RuntimeError(f"ImageNet weights {enum} are not in the torch hub cache and downloads are disabled")
        reason = "not in the torch hub cache, and downloads are disabled (GANCNN_DOWNLOAD=0)"
    elif weights != "random":
        with download_deadline() as seconds:
            try:
                model = resnet50(weights=enum)  # reads the hub cache, downloads when it can
            except Exception as exc:  # offline: URLError, OSError, TimeoutError, ...
                timeout = f"the download of ImageNet weights {enum} timed out: no data for {seconds:g} s"
                if weights == "imagenet":
                    if _timed_out(exc):
                        raise RuntimeError(f"{timeout} (GANCNN_DOWNLOAD_TIMEOUT)") from exc
                    raise RuntimeError(f"ImageNet weights {enum} are neither cached nor downloadable: {exc}") from exc
                reason = timeout if _timed_out(exc) else f"{type(exc).__name__}: {_without_home(str(exc))[:120]}"
            else:
                return model.eval(), f"pretrained ImageNet weights {enum} (torchvision)"
    else:
        reason = "random weights were asked for"
    text = f"RANDOM weights (torchvision's initialisation); pretrained not used: {reason}"
    return resnet50(weights=None).eval(), text


def preprocess(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """Section 5.1: images in [-1, 1] -> resized (bilinear) to size x size, normalised with ImageNet mean/std."""
    x = (images + 1) / 2
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x - mean) / std


def representation(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The 2048-d output of the adaptive average pooling (the input of the fully connected layer)."""
    trunk = nn.Sequential(*list(model.children())[:-1])
    with torch.no_grad():
        return trunk(x).flatten(1)


def adaptive_pool_windows(in_size: int, out_size: int) -> list[tuple[int, int]]:
    """Index windows [floor(i*in/out), ceil((i+1)*in/out)) that adaptive average pooling averages over."""
    if in_size < 1 or out_size < 1:
        raise ValueError("sizes must be positive")
    return [(math.floor(i * in_size / out_size), math.ceil((i + 1) * in_size / out_size)) for i in range(out_size)]


def adaptive_pool_kernel(in_size: int, out_size: int) -> int:
    """The source's kernel size floor((in + out - 1) / out) = ceil(in / out); exact when out divides in."""
    return (in_size + out_size - 1) // out_size
