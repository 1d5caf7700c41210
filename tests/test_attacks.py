"""Attacks through torchattacks on a small model (gancnn.adjoint.attacks)."""

import torch
from torch import nn

from gancnn.adjoint import attacks


def small_model() -> nn.Module:
    """A fixed random linear-ReLU classifier of 3x8x8 normalised images."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(192, 32), nn.ReLU(), nn.Linear(32, 10)).eval()


def test_step_conversion_and_wrapper():
    """0.04 normalised is 0.04 x mean std in pixels; the wrapper normalises and inverts."""
    assert abs(attacks.normalized_to_pixel_step(0.04) - 0.04 * (0.2023 + 0.1994 + 0.2010) / 3) < 1e-12
    pix = attacks.PixelSpaceModel(small_model())
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(pix.to_pixels(pix.normalize(x)), x, atol=1e-6)
    assert attacks.kurakin_steps(0.16, 0.04) == 5 and attacks.kurakin_steps(1.28, 0.04) == 36


def test_untargeted_respects_budget_and_flips():
    """The perturbation stays in the L-inf ball (pixels) and in [0, 1]; the prediction changes."""
    pix = attacks.PixelSpaceModel(small_model())
    x = torch.rand(3, 8, 8)
    label = int(attacks.predict(pix, x[None])[0])
    adv, eps, ok = attacks.bim_untargeted_growing(pix, x, label, (0.16, 0.64, 2.56))
    assert ok and int(attacks.predict(pix, adv[None])[0]) != label
    assert (adv - x).abs().max() <= attacks.normalized_to_pixel_step(eps) + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1


def test_targeted_every_class_success_is_checked():
    """Every reported success really predicts the target; a large budget reaches all of them."""
    pix = attacks.PixelSpaceModel(small_model())
    x = torch.rand(3, 8, 8)
    label = int(attacks.predict(pix, x[None])[0])
    tset = attacks.attack_every_class(pix, x, label, 10, (0.32, 2.56, 5.0))
    pred = attacks.predict(pix, tset.x_adv)
    assert torch.equal(pred[tset.success], tset.targets[tset.success])
    assert label not in tset.targets.tolist() and tset.success_rate() == 1.0


def test_scaled_set_fools_and_gaussian_matches_moments():
    """Scaled-down perturbations all still fool; each Gaussian pattern has its partner's mean and std."""
    net = small_model()
    pix = attacks.PixelSpaceModel(net)
    x = torch.rand(3, 8, 8)
    label = int(attacks.predict(pix, x[None])[0])
    tset = attacks.attack_every_class(pix, x, label, 10, (2.56, 5.0))
    x0 = pix.normalize(x[None])[0]
    noises = pix.normalize(tset.x_adv[tset.success]) - x0[None]
    scaled, betas = attacks.scaled_adversarial(net, x0, label, noises, 20, torch.linspace(0, 1, 21)[1:])
    assert len(scaled) == 20 and attacks.fooling_rate(net, x0, label, scaled) == 1.0
    assert betas.max() <= 1 and betas.min() > 0
    gauss = attacks.matched_gaussian(scaled, torch.Generator().manual_seed(0))
    sd, n = scaled.flatten(1).std(1), scaled[0].numel()
    assert ((gauss.flatten(1).mean(1) - scaled.flatten(1).mean(1)).abs() <= 4 * sd / n**0.5).all()
    assert ((gauss.flatten(1).std(1) / sd - 1).abs() <= 0.25).all()


def test_not_fooling_gaussian_redraws_until_label_kept():
    """Kept Gaussian patterns that needed fewer than max_draws draws never fool the model."""
    net = small_model()
    pix = attacks.PixelSpaceModel(net)
    x0 = pix.normalize(torch.rand(1, 3, 8, 8))[0]
    label = int(attacks.predict(net, x0[None])[0])
    patterns = 3.0 * torch.randn(30, 3, 8, 8)
    gauss, draws = attacks.matched_gaussian_not_fooling(net, x0, label, patterns, torch.Generator().manual_seed(0), 50)
    ok = draws < 50
    assert ok.any() and (attacks.predict(net, x0[None] + gauss[ok]) == label).all()
    assert (draws >= 1).all()
