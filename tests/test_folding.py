"""Equivalent-model conversion: BN folding (eq. 3.6), Fixup multipliers, the bias vector x_b and its restrictions."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from gancnn.adjoint import folding
from gancnn.models.resnet20 import FixupResNet20, ResNet20BN
from gancnn.models.vgg7 import VGG7
from model_helpers import randomised as perturbed


def test_fold_bn_matches_torch_fusion_and_conv_bn() -> None:
    """Our eq. 3.6 equals torch's fuse_conv_bn_eval and the conv -> BN composition."""
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=False).double()
    bn = perturbed(nn.Sequential(nn.BatchNorm2d(6, eps=1e-3))).double()[0]
    ours = folding.fold_bn_into_conv(conv, bn)
    ref = fuse_conv_bn_eval(conv.eval(), bn.eval())
    assert torch.allclose(ours.weight, ref.weight) and torch.allclose(ours.bias, ref.bias)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    assert torch.allclose(ours(x), bn(conv(x)), atol=1e-12)


@pytest.mark.parametrize(
    "factory,size", [(lambda: VGG7(batchnorm=True), 384), (ResNet20BN, 1184), (lambda: FixupResNet20(bias=True), 37)]
)
def test_equivalent_model_same_logits(factory, size: int) -> None:
    """Folded models give the same logits and predictions; x_b has the expected size."""
    model = perturbed(factory())
    eq = folding.equivalent_model(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in eq.modules())
    assert all(n.endswith(("weight", "bias")) for n, _ in eq.named_parameters())
    x = torch.randn(3, 3, 16, 16, dtype=torch.float64)
    ref, out = model(x), eq(x)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-10)
    assert torch.equal(out.argmax(1), ref.argmax(1))
    layout = folding.bias_layout(eq)
    assert layout.size == size
    x_b = folding.gather(eq, layout)
    assert torch.allclose(folding.call_with_bias(eq, layout, x, x_b), ref, atol=1e-10)


def test_multiplier_folding_and_refusal() -> None:
    """w' = M w reproduces the multiplier; a multiplier left unfolded is refused by the bias layout."""
    model = perturbed(FixupResNet20(bias=False))
    folded = folding.fold_multipliers(model)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    assert torch.allclose(folded(x), model(x), atol=1e-12)
    with pytest.raises(ValueError, match="scale"):
        folding.bias_layout(model)


def test_restriction_maps_round_trip() -> None:
    """restrict(gather(model)) gives back each bias; R_l x_b equals r_l(x_b); zero x_b removes every bias."""
    eq = folding.equivalent_model(perturbed(VGG7(batchnorm=True)))
    layout = folding.bias_layout(eq)
    x_b = folding.gather(eq, layout)
    params = dict(eq.named_parameters())
    for name, piece in folding.restrict(x_b, layout).items():
        assert torch.equal(piece, params[name].detach())
        assert torch.equal(layout.restriction_matrix(name) @ x_b, piece.reshape(-1))
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    no_bias = folding.call_with_bias(eq, layout, x, torch.zeros_like(x_b))
    for name in layout.names:
        dict(eq.named_parameters())[name].data.zero_()
    assert torch.allclose(no_bias, eq(x))
    with pytest.raises(ValueError, match="shape"):
        folding.restrict(x_b[:-1], layout)
