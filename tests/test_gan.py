"""Tests of gancnn.gan.training: losses, gradient penalty, TTUR step sizes, spectral norm, resume."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gancnn.gan import spectral
from gancnn.gan import training as gan
from gancnn.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancnn.models.sagan import SAGANDiscriminator, SAGANGenerator


def test_nonsaturating_losses_match_binary_cross_entropy() -> None:
    """The softplus forms equal BCE with labels 1 (real) and 0 (fake), and the G loss at logit 0 is log 2."""
    real, fake = torch.randn(16), torch.randn(16)
    bce = nn.functional.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones(16)) + bce(fake, torch.zeros(16))
    assert torch.allclose(gan.nonsaturating_d_loss(real, fake), expected, atol=1e-6)
    assert math.isclose(gan.nonsaturating_g_loss(torch.zeros(4)).item(), math.log(2), rel_tol=1e-6)
    # G minimises -E log sigmoid(D(G(z))) = BCE with label 1 on the fakes, not the saturating E log(1 - sigmoid):
    # the two agree only at logit 0, so compare on logits away from 0 (where the saturating form's is -softplus)
    logits = torch.linspace(-4.0, 4.0, 9, dtype=torch.float64) + 0.5
    ns = gan.nonsaturating_g_loss(logits)
    assert torch.allclose(ns, bce(logits, torch.ones_like(logits)), rtol=1e-12, atol=0)
    assert torch.allclose(ns, -torch.log(torch.sigmoid(logits)).mean(), rtol=1e-12, atol=0)
    assert not torch.allclose(ns, torch.log1p(-torch.sigmoid(logits)).mean(), rtol=1e-3)


def test_wasserstein_losses() -> None:
    """Critic loss is E[fake] - E[real]; generator loss is -E[fake]."""
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.5, 1.5])
    assert gan.wasserstein_d_loss(real, fake).item() == pytest.approx(1.0 - 2.0)
    assert gan.wasserstein_g_loss(fake).item() == pytest.approx(-1.0)  # a nonzero mean: the sign is seen


def test_gradient_penalty_of_linear_critic_is_closed_form() -> None:
    """For D(x) = <w, x> + b the gradient is w everywhere, so the penalty is (||w|| - 1)^2."""
    w = torch.randn(3 * 8 * 8, dtype=torch.float64) / 5
    critic = lambda x: x.flatten(1) @ w - 1.0  # noqa: E731
    points = gan.interpolates(torch.rand(5, 3, 8, 8, dtype=torch.float64), torch.rand(5, 3, 8, 8, dtype=torch.float64))
    assert gan.gradient_penalty(critic, points).item() == pytest.approx((w.norm().item() - 1) ** 2, abs=1e-12)


def test_gradient_penalty_is_zero_for_unit_gradient_and_differentiable() -> None:
    """A critic with unit-norm gradient has no penalty; the penalty has a gradient w.r.t. the critic's weights."""
    lin = nn.Linear(12, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(1, 12))
        lin.weight /= lin.weight.norm()
    pts = torch.randn(4, 12)
    assert gan.gradient_penalty(lambda x: lin(x).squeeze(1), pts).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        lin.weight *= 2
    gp = gan.gradient_penalty(lambda x: lin(x).squeeze(1), pts)
    gp.backward()
    assert gp.item() == pytest.approx(1.0, rel=1e-5)
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_interpolates_lie_on_segments() -> None:
    """Each interpolate is eps * real + (1 - eps) * fake with one eps in [0, 1] per sample, drawn per sample."""
    g = torch.Generator().manual_seed(0)
    real = torch.randn(64, 3, 4, 4, generator=g, dtype=torch.float64)
    fake = torch.randn(64, 3, 4, 4, generator=g, dtype=torch.float64)
    pts = gan.interpolates(real, fake, generator=torch.Generator().manual_seed(1))
    eps = ((pts - fake) / (real - fake)).flatten(1)  # recover eps entry by entry
    assert torch.allclose(eps, eps[:, :1].expand_as(eps), atol=1e-8)  # one eps for every entry of a sample
    eps = eps[:, 0]
    assert torch.all((eps >= 0) & (eps <= 1))
    assert torch.allclose(pts, eps.view(-1, 1, 1, 1) * real + (1 - eps.view(-1, 1, 1, 1)) * fake, atol=1e-9)
    assert eps.std() > 0.2 and eps.min() < 0.1 and eps.max() > 0.9  # U[0, 1] per sample, not a constant
    with pytest.raises(ValueError):
        gan.interpolates(real, fake[:5])


def test_setup_rejects_bad_values() -> None:
    """Unknown losses and non-positive counts fail fast."""
    with pytest.raises(ValueError):
        gan.GANSetup(loss="hinge")
    with pytest.raises(ValueError):
        gan.GANSetup(batch_size=0)
    with pytest.raises(ValueError):
        gan.GANSetup(lr_d=0.0)


def test_power_iteration_and_torch_spectral_norm_match_svd() -> None:
    """Power iteration converges to sigma_max; torch's parametrisation gives a weight with sigma 1."""
    torch.manual_seed(0)
    w = torch.randn(8, 4, 3, 3, dtype=torch.float64)
    sigma, _, _ = spectral.power_iteration(w, torch.randn(8, dtype=torch.float64), n_steps=500)
    assert sigma.item() == pytest.approx(spectral.exact_sigma(w).item(), rel=1e-8)
    conv = spectral_norm(nn.Conv2d(4, 8, 3))
    for _ in range(200):
        conv(torch.zeros(1, 4, 5, 5))
    assert spectral.exact_sigma(conv.weight.detach()).item() == pytest.approx(1.0, abs=1e-4)


def test_jacobian_spectral_norm_of_linear_map_is_sigma_max() -> None:
    """For x -> A x the Jacobian is A, whose spectral norm the SVD gives."""
    a = torch.randn(7, 5, dtype=torch.float64)
    value, _ = spectral.jacobian_spectral_norm(lambda x: a @ x, torch.randn(5, dtype=torch.float64), n_iter=300)
    assert value == pytest.approx(torch.linalg.matrix_norm(a, 2).item(), rel=1e-8)


def test_adam_first_step_moves_each_weight_by_its_learning_rate() -> None:
    """TTUR: after one training step, D's weights move by lr_d and G's by lr_g (Adam's first step is lr * sign)."""
    torch.manual_seed(0)
    images, labels = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (16,))
    setup = gan.GANSetup(loss="wgan-gp", n_classes=10, batch_size=8, lr_g=1e-4, lr_d=4e-4, beta1=0.0, beta2=0.9)
    G, D = SAGANGenerator(ngf=8), SAGANDiscriminator(ndf=8)
    trainer = gan.GANTrainer(G, D, images, labels, setup)
    before = {id(p): p.detach().clone() for p in list(G.parameters()) + list(D.parameters())}
    trainer.step(0)
    for model, lr in ((G, 1e-4), (D, 4e-4)):
        steps = torch.cat([(p.detach() - before[id(p)]).abs().flatten() for p in model.parameters()])
        moved = steps[steps > lr * 1e-3]
        assert moved.numel() > 0.5 * steps.numel()
        assert (moved.median() / lr).item() == pytest.approx(1.0, abs=1e-3)


def test_critic_step_minimises_the_wgan_gp_objective() -> None:
    """One critic step's loss is eq. (wgan-gp), recomputed from copies of G and D taken before the step:
    E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x_hat)||_2 - 1)^2] with x_hat = eps x + (1 - eps) G(z)."""
    torch.manual_seed(0)
    images, labels = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (16,))
    lam = 7.0  # not the default 10: the weight must come from the setup
    setup = gan.GANSetup(loss="wgan-gp", n_classes=10, batch_size=8, gp_weight=lam)
    trainer = gan.GANTrainer(SAGANGenerator(ngf=8), SAGANDiscriminator(ndf=8), images, labels, setup)
    real, y = trainer.real_batch(0)
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)  # train mode: same power-iteration state as D
    rng = torch.get_rng_state()
    metrics = trainer.d_step(real, y)
    torch.set_rng_state(rng)  # replay the step's draws: z, then one eps per sample
    z = torch.randn(len(real), setup.nz)
    with torch.no_grad():
        fake = G(z, y)
    d_real, d_fake = D(real, y).mean(), D(fake, y).mean()
    eps = torch.rand(len(real), 1, 1, 1)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat, y).sum(), x_hat)
    gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert metrics["d_real"] == pytest.approx(d_real.item(), rel=1e-5, abs=1e-7)
    assert metrics["d_fake"] == pytest.approx(d_fake.item(), rel=1e-5, abs=1e-7)
    assert metrics["gp"] == pytest.approx(gp.item(), rel=1e-5)
    expected = (d_fake - d_real + lam * gp).item()
    assert metrics["d_loss"] == pytest.approx(expected, rel=1e-6, abs=1e-7)
    wrong_sign = (d_real - d_fake + lam * gp).item()
    assert abs(metrics["d_loss"] - wrong_sign) > 100 * max(1e-6 * abs(expected), 1e-7)  # the check sees the sign


def test_generator_step_uses_the_non_saturating_loss() -> None:
    """DCGAN's G step minimises -E log sigmoid(D(G(z))), recomputed from copies taken before the step."""
    trainer = _trainer()
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    rng = torch.get_rng_state()
    loss = trainer.g_step()["g_loss"]
    torch.set_rng_state(rng)
    logits = D(G(torch.randn(trainer.setup.batch_size, trainer.setup.nz)))
    assert loss == pytest.approx(-torch.log(torch.sigmoid(logits)).mean().item(), rel=1e-5)


def _trainer(seed: int = 0, ema_decay: float = 0.0) -> gan.GANTrainer:
    """A tiny DCGAN trainer on random images, initialised from a seed."""
    torch.manual_seed(seed)
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return gan.GANTrainer(
        DCGANGenerator(nz=16, ngf=8),
        DCGANDiscriminator(ndf=8),
        images,
        torch.zeros(40),
        gan.GANSetup(nz=16, batch_size=8, ema_decay=ema_decay),
        seed=seed,
    )


def test_resume_reproduces_an_uninterrupted_run(tmp_path) -> None:
    """Training 6 steps straight equals 3 steps, a fresh process-like restart from the checkpoint, then 3 more."""
    straight = _trainer()
    hist_a = straight.train(6, snapshot_every=3, progress=False)
    ckpt = tmp_path / "gan.pt"
    first = _trainer()
    first.train(3, checkpoint=ckpt, every=3, snapshot_every=3, progress=False)
    torch.manual_seed(123)  # disturb the global RNG: the checkpoint must restore it
    resumed = _trainer()
    hist_b = resumed.train(6, checkpoint=ckpt, every=3, snapshot_every=3, progress=False)
    for pa, pb in zip(straight.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(pa, pb)
    assert [h["d_loss"] for h in hist_a] == [h["d_loss"] for h in hist_b]
    assert sorted(resumed.snapshots.images) == [3, 6]
    assert torch.equal(straight.snapshots.images[6], resumed.snapshots.images[6])


def test_generator_average_follows_its_recurrence_with_warm_up() -> None:
    """After each G step, avg = d_t avg + (1 - d_t) G with d_t = min(decay, (1 + t) / (10 + t)); buffers too."""
    trainer = _trainer(ema_decay=0.9)
    expected = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    for t in range(4):
        trainer.step(t)
        d = min(0.9, (1 + t) / (10 + t))
        for k, v in trainer.G.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    assert gan.ema_decay_at(0.9, 0) == pytest.approx(0.1) and gan.ema_decay_at(0.9, 10**6) == 0.9
    averaged = trainer.G_avg.model.state_dict()
    assert any("running_mean" in k for k in averaged)  # batch-norm statistics are averaged as well
    for k, v in expected.items():
        assert torch.allclose(averaged[k].float(), v.float(), atol=1e-6), k
    raw = trainer.G.state_dict()
    assert any(not torch.equal(averaged[k], raw[k]) for k in raw if raw[k].is_floating_point())  # it lags G
    assert trainer.sampling_generator is trainer.G_avg.model


def test_generator_average_is_off_by_default_and_keeps_old_keys() -> None:
    """Without ema_decay the trainer samples from G and the setup's dict (a cache key) has no ema entry."""
    trainer = _trainer()
    assert trainer.G_avg is None and trainer.sampling_generator is trainer.G
    assert "ema_decay" not in gan.GANSetup().as_dict() and gan.GANSetup(ema_decay=0.99).as_dict()["ema_decay"] == 0.99
    with pytest.raises(ValueError, match="ema_decay"):
        gan.GANSetup(ema_decay=1.0)


def test_resume_with_generator_average_is_exact(tmp_path) -> None:
    """The average is part of the checkpoint: 4 straight steps equal 2, a restart, and 2 more."""
    straight = _trainer(ema_decay=0.99)
    straight.train(4, progress=False)
    ckpt = tmp_path / "gan-ema.pt"
    _trainer(ema_decay=0.99).train(2, checkpoint=ckpt, every=2, progress=False)
    resumed = _trainer(ema_decay=0.99)
    resumed.train(4, checkpoint=ckpt, every=2, progress=False)
    for pa, pb in zip(straight.G_avg.state_dict().values(), resumed.G_avg.state_dict().values()):
        assert torch.equal(pa, pb)
    assert int(resumed.G_avg.updates) == 4


def test_evaluate_hook_and_history_summary() -> None:
    """The evaluation hook runs at multiples of eval_every before the end; the summary keeps its values."""
    trainer = _trainer()
    history = trainer.train(6, evaluate=lambda done: {"fid": float(done)}, eval_every=2, progress=False)
    summary = gan.summarize_history(history, n_points=3)
    assert summary["fid_step"].tolist() == [2.0, 4.0] and summary["fid"].tolist() == [2.0, 4.0]
    assert summary["step"].tolist() == [1.5, 3.5, 5.5]
    assert np.isfinite(summary["d_img_per_s"]).all()


def test_uint8_round_trip() -> None:
    """to_unit_range and to_uint8 are inverse on uint8 images."""
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).repeat(1, 3, 1, 1)
    assert torch.equal(gan.to_uint8(gan.to_unit_range(x)), x)


def test_setup_rejects_an_unknown_precision() -> None:
    with pytest.raises(ValueError, match="precision"):
        gan.GANSetup(precision="fp16")


def test_channels_last_training_equals_contiguous_training_in_fp32() -> None:
    """The NHWC layout changes strides, not values: two fp32 steps give the same losses within rounding.

    (Weights are not compared entry by entry: Adam's first step is lr * sign(g), so a gradient entry within
    rounding of zero may flip sign under another summation order and move its weight by 2 lr.)
    """
    weights, losses = [], []
    for channels_last in (False, True):
        torch.manual_seed(0)
        images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
        setup = gan.GANSetup(nz=16, batch_size=8, channels_last=channels_last)
        G, D = DCGANGenerator(nz=16, ngf=8), DCGANDiscriminator(ndf=8)
        trainer = gan.GANTrainer(G, D, images, torch.zeros(16), setup)
        history = trainer.train(2, progress=False)
        losses.append([h[k] for h in history for k in ("d_loss", "g_loss")])
        weights.append(torch.cat([p.detach().flatten() for p in trainer.G.parameters()]))
    assert np.allclose(losses[0], losses[1], rtol=1e-4)
    assert ((weights[0] - weights[1]).abs() > 1e-5).float().mean() < 0.01


def test_bf16_training_steps_run_and_keep_fp32_weights_and_finite_losses() -> None:
    """Under bf16 autocast (WGAN-GP's double backward included) the losses stay finite and the weights fp32."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    setup = gan.GANSetup(loss="wgan-gp", n_classes=10, batch_size=8, precision="bf16", channels_last=True)
    trainer = gan.GANTrainer(SAGANGenerator(ngf=8), SAGANDiscriminator(ndf=8), images, torch.arange(16) % 10, setup)
    before = [p.detach().clone() for p in trainer.D.parameters()]
    history = trainer.train(2, progress=False)
    assert all(np.isfinite([h["d_loss"], h["g_loss"], h["gp"]]).all() for h in history)
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(trainer.D.parameters(), before))
    assert trainer.sample_random(4, seed=0)[0].dtype == torch.uint8
