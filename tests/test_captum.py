"""AdjointBackMap against the field's library: RM0 of the trained reference networks vs Captum.

RM0's image part H_k (the hypersurface of logit k) is the input gradient, so Captum's Saliency (abs=False)
must return H_k and its InputXGradient must return H_k * x; for the bias-free VGG7 the attributions sum to the
logit (completeness), and for the folded batch-norm network the image part plus the bias part
(FullGrad's bias-gradients, batch-norm biases from the running statistics) is the logit. In float64, with the
tolerance Captum's own tests use for exact attributions (1e-7 relative here).
"""

from __future__ import annotations

import pytest
import torch
from captum.attr import InputXGradient, Saliency

from gancnn.adjoint import backmap, folding
from gancnn.adjoint import training as ct
from gancnn.adjoint.backmap import AdjointBackMap
from gancnn.reference import classifiers


def _network(name: str) -> torch.nn.Module:
    """A stored reference network in float64 and eval mode (the repository holds its weights)."""
    found = classifiers.reference_model(name)
    if found is None:
        pytest.fail(f"the stored reference weights of {name} are missing (artifacts/reference/)")
    return found[0].double().eval()


@pytest.fixture
def images(offline_data) -> torch.Tensor:
    """Four normalised CIFAR-10 test images in float64."""
    x, _, _ = ct.test_set("cifar10", 4, seed=0)
    return ct.normalize(x).double()


@pytest.mark.parametrize("name,version", [("vgg7", 1), ("vgg7-bn", 2)])
def test_rm0_is_captum_saliency_and_input_x_gradient(name: str, version: int, images: torch.Tensor) -> None:
    model = _network(name)
    analysed = model if version == 1 else folding.equivalent_model(model)
    abm = AdjointBackMap(analysed, version=version)
    targets = model(images).argmax(1)
    h = backmap.class_hypersurfaces(abm, images, targets)
    saliency = Saliency(model).attribute(images, target=targets, abs=False)
    ixg = InputXGradient(model).attribute(images, target=targets)
    scale = h.abs().max()
    assert (h - saliency).abs().max() <= 1e-7 * scale
    assert (h * images - ixg).abs().max() <= 1e-7 * (h * images).abs().max()


def test_bias_free_attributions_sum_to_the_logit(images: torch.Tensor) -> None:
    """Completeness without biases: sum InputXGradient = f_k(x) for the bias-free VGG7."""
    model = _network("vgg7")
    logits = model(images)
    targets = logits.argmax(1)
    ixg = InputXGradient(model).attribute(images, target=targets)
    chosen = logits[torch.arange(len(images)), targets]
    assert torch.allclose(ixg.flatten(1).sum(1), chosen.detach(), rtol=1e-9, atol=1e-9)


def test_folded_batchnorm_network_is_complete_with_fullgrad_bias_parts(images: torch.Tensor) -> None:
    """FullGrad's completeness: f(x) = <grad_x f, x> + sum_l <grad_b_l f, b_l>, BN biases from running stats."""
    model = _network("resnet20-bn")
    folded = folding.equivalent_model(model)
    logits = model(images)
    for i in range(len(images)):
        k = int(logits[i].argmax())
        image_part, bias_part = backmap.bias_gradient_decomposition(folded, images[i : i + 1], k)
        assert torch.allclose(image_part + bias_part, logits[i, k].detach(), rtol=1e-9, atol=1e-9)
        saliency = Saliency(model).attribute(images[i : i + 1], target=k, abs=False)
        assert torch.allclose((saliency * images[i : i + 1]).sum(), image_part, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["vgg7-bn", "resnet20-bn"])
def test_fullgrad_hooks_on_the_unfolded_network_agree_with_the_folded_decomposition(name: str, images) -> None:
    """Two routes to FullGrad's parts: hooks on the batch-norm layers (running-statistics shift) vs the folded net."""
    from gancnn.adjoint import sanity

    model = _network(name)
    folded = folding.equivalent_model(model)
    targets = model(images).argmax(1)
    image, parts = sanity.fullgrad_parts(model, images, targets)
    for i in range(len(images)):
        image_part, bias_part = backmap.bias_gradient_decomposition(folded, images[i : i + 1], int(targets[i]))
        assert torch.allclose(image[i].sum(), image_part, rtol=1e-9, atol=1e-9)
        assert torch.allclose(sum(p[i].sum() for _, p in parts), bias_part, rtol=1e-9, atol=1e-9)
