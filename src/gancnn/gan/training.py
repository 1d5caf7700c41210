"""GAN losses and a GAN trainer (D and G steps, TTUR learning rates) built on `gancnn.train.run_loop`.

Losses: the non-saturating loss of Goodfellow et al. on logits, and the Wasserstein critic loss with
the gradient penalty of Gulrajani et al. (lambda * E[(||grad_xhat D(xhat)|| - 1)^2] on random
interpolates between real and generated images). `GANTrainer.step(i)` does `n_critic` D updates and one
G update, times both (images per second), and can call an evaluation hook (FID) and keep fixed-noise
sample grids; every state lives in the run_loop checkpoint, so an interrupted run resumes exactly.
With `ema_decay` > 0 the trainer also keeps an exponential moving average of the generator's weights and
buffers (Yazici et al. 2019; the average BigGAN and StyleGAN sample from), updated after every G step with
the warm-up decay min(ema_decay, (1 + t) / (10 + t)); samples, FIDs and the stored generator are then the
average's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gancnn.train import PRECISIONS, StepSampler, autocast, run_loop

LOSSES = ("nonsaturating", "wgan-gp")


def nonsaturating_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Return -E[log sigmoid(D(x))] - E[log(1 - sigmoid(D(G(z))))] computed stably from logits."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Return -E[log sigmoid(D(G(z)))], the generator loss that does not saturate when D wins."""
    return F.softplus(-fake_logits).mean()


def wasserstein_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Return E[D(G(z))] - E[D(x)], the critic's side of the Wasserstein objective."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Return -E[D(G(z))]."""
    return -fake_scores.mean()


def interpolates(real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per sample."""
    if real.shape != fake.shape:
        raise ValueError(f"real and fake batches differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator, device=real.device)
    return eps * real + (1 - eps) * fake


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor) -> torch.Tensor:
    """Return E[(||grad_x critic(x)||_2 - 1)^2] over the batch `points` (differentiable: create_graph)."""
    points = points.detach().requires_grad_(True)
    scores = critic(points)
    (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


@dataclass(frozen=True)
class GANSetup:
    """The knobs of one GAN training run."""

    loss: str = "nonsaturating"  # "nonsaturating" | "wgan-gp"
    nz: int = 100
    n_classes: int = 0  # 0: unconditional; > 0: G and D take labels
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4  # TTUR: lr_d > lr_g
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1  # D updates per G update
    gp_weight: float = 10.0
    precision: str = "fp32"  # "bf16": autocast the forward passes of training steps (sampling stays fp32)
    channels_last: bool = False  # NHWC memory layout for both networks and their inputs
    ema_decay: float = 0.0  # 0: sample from G itself; in (0, 1): sample from the moving average of G

    def __post_init__(self) -> None:
        """Fail fast on settings the trainer cannot run."""
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("nz", "batch_size", "n_critic"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.lr_g <= 0 or self.lr_d <= 0 or self.gp_weight < 0 or self.n_classes < 0:
            raise ValueError("learning rates must be positive, gp_weight and n_classes non-negative")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (for cache keys; `ema_decay` only when on, so older keys hold)."""
        fields = asdict(self)
        if not fields["ema_decay"]:
            del fields["ema_decay"]
        return fields


def ema_decay_at(decay: float, t: int) -> float:
    """The moving average's decay after t updates: min(decay, (1 + t) / (10 + t)), so early weights fade fast."""
    return min(decay, (1.0 + t) / (10.0 + t))


class GeneratorAverage(nn.Module):
    """An exponential moving average of a generator's floating-point weights and buffers (integers copied)."""

    def __init__(self, generator: nn.Module, decay: float) -> None:
        """Start as a frozen copy of the generator."""
        super().__init__()
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self.decay = decay
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        """avg <- d * avg + (1 - d) * G entry by entry, with d = ema_decay_at(decay, updates)."""
        d = ema_decay_at(self.decay, int(self.updates))
        source = generator.state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.is_floating_point():
                avg.lerp_(source[name].to(avg.dtype), 1.0 - d)
            else:
                avg.copy_(source[name])
        self.updates += 1


class Snapshots:
    """Sample grids at fixed noise, keyed by step; stateful so that run_loop checkpoints them."""

    def __init__(self) -> None:
        """Start empty."""
        self.images: dict[int, torch.Tensor] = {}

    def state_dict(self) -> dict[str, Any]:
        """Return the stored grids."""
        return {"images": dict(self.images)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore stored grids."""
        self.images = dict(state["images"])


def to_unit_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """Map uint8 images in [0, 255] to floats in [-1, 1] (the generator's tanh range)."""
    return images_uint8.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Map images in [-1, 1] to uint8 in [0, 255], rounding as a saved PNG would."""
    return images.detach().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).cpu()


class GANTrainer:
    """Alternate n_critic D updates and one G update on a uint8 image tensor (labels used when conditional)."""

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor,
        setup: GANSetup,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        """Keep the models, build Adam optimizers with the (TTUR) learning rates and a step-indexed sampler."""
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be a uint8 (N, C, H, W) tensor, got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError("labels must hold one label per image")
        self.device = torch.device(device)
        memory = torch.channels_last if setup.channels_last else torch.contiguous_format
        self.G = generator.to(self.device, memory_format=memory)
        self.D = discriminator.to(self.device, memory_format=memory)
        self.setup = setup
        self.images, self.labels = images, labels.long()
        betas = (setup.beta1, setup.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=setup.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=setup.lr_d, betas=betas)
        self.G_avg = GeneratorAverage(self.G, setup.ema_decay) if setup.ema_decay else None
        self.sampler = StepSampler(len(images), setup.batch_size, seed=seed)
        self.snapshots = Snapshots()
        gen = torch.Generator().manual_seed(seed + 12345)
        n_fixed = 8 * setup.n_classes if self.conditional else 64
        self.fixed_z = torch.randn(n_fixed, setup.nz, generator=gen)
        self.fixed_labels = (
            torch.arange(setup.n_classes).repeat_interleave(8)
            if self.conditional
            else torch.zeros(n_fixed, dtype=torch.long)
        )

    @property
    def conditional(self) -> bool:
        """True when G and D take class labels."""
        return self.setup.n_classes > 0

    def generate(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, generator: nn.Module | None = None
    ) -> torch.Tensor:
        """Run G (or another generator of the same family) on noise (and labels when conditional)."""
        G = self.G if generator is None else generator
        z = z.to(self.device)
        return G(z, labels.to(self.device)) if self.conditional else G(z)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator samples come from: the moving average when kept, else G."""
        return self.G if self.G_avg is None else self.G_avg.model

    def critic(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Run D on images (and labels when conditional)."""
        return self.D(x, labels) if self.conditional else self.D(x)

    def random_labels(self, n: int) -> torch.Tensor:
        """Draw n uniform class labels (zeros when unconditional)."""
        if not self.conditional:
            return torch.zeros(n, dtype=torch.long, device=self.device)
        return torch.randint(self.setup.n_classes, (n,), device=self.device)

    def real_batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the index-th real batch in [-1, 1] with its labels."""
        idx = torch.as_tensor(self.sampler.indices(index))
        real = to_unit_range(self.images[idx]).to(self.device)
        if self.setup.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, self.labels[idx].to(self.device)

    def d_step(self, real: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """One discriminator/critic update on a real batch and a fresh generated batch."""
        z = torch.randn(real.shape[0], self.setup.nz, device=self.device)
        with torch.no_grad(), autocast(self.device, self.setup.precision):
            fake = self.generate(z, labels).float()
        with autocast(self.device, self.setup.precision):
            real_out, fake_out = self.critic(real, labels).float(), self.critic(fake, labels).float()
        metrics: dict[str, float] = {}
        if self.setup.loss == "nonsaturating":
            loss = nonsaturating_d_loss(real_out, fake_out)
        else:
            with autocast(self.device, self.setup.precision):
                gp = gradient_penalty(lambda x: self.critic(x, labels).float(), interpolates(real, fake))
            loss = wasserstein_d_loss(real_out, fake_out) + self.setup.gp_weight * gp
            metrics["gp"] = gp.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        metrics.update(d_loss=loss.item(), d_real=real_out.mean().item(), d_fake=fake_out.mean().item())
        return metrics

    def g_step(self) -> dict[str, float]:
        """One generator update on a fresh batch of noise (and random labels)."""
        n = self.setup.batch_size
        labels = self.random_labels(n)
        with autocast(self.device, self.setup.precision):
            z = torch.randn(n, self.setup.nz, device=self.device)
            fake_out = self.critic(self.generate(z, labels), labels).float()
        loss = nonsaturating_g_loss(fake_out) if self.setup.loss == "nonsaturating" else wasserstein_g_loss(fake_out)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if self.G_avg is not None:
            self.G_avg.update(self.G)
        return {"g_loss": loss.item()}

    def step(self, i: int) -> dict[str, float]:
        """Global step i: n_critic D updates, then one G update; returns losses and throughput (images/s)."""
        self.G.train()
        self.D.train()
        t0 = time.perf_counter()
        for k in range(self.setup.n_critic):
            metrics = self.d_step(*self.real_batch(i * self.setup.n_critic + k))
        t1 = time.perf_counter()
        metrics.update(self.g_step())
        t2 = time.perf_counter()
        metrics["d_img_per_s"] = self.setup.batch_size * self.setup.n_critic / (t1 - t0)
        metrics["g_img_per_s"] = self.setup.batch_size / (t2 - t1)
        return metrics

    @torch.no_grad()
    def sample(
        self, z: torch.Tensor, labels: torch.Tensor, batch_size: int = 256, generator: nn.Module | None = None
    ) -> torch.Tensor:
        """Generate uint8 images in eval mode (batch-norm running statistics) for given noise and labels, from
        `sampling_generator` unless another generator is given."""
        G = self.sampling_generator if generator is None else generator
        was_training = G.training
        G.eval()
        out = [
            to_uint8(self.generate(z[s : s + batch_size], labels[s : s + batch_size], G))
            for s in range(0, len(z), batch_size)
        ]
        G.train(was_training)
        return torch.cat(out)

    def sample_random(self, n: int, seed: int, generator: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate n uint8 images from noise and uniform labels drawn with their own seeded generator."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.setup.nz, generator=gen)
        labels = (
            torch.randint(self.setup.n_classes, (n,), generator=gen)
            if self.conditional
            else torch.zeros(n, dtype=torch.long)
        )
        return self.sample(z, labels, generator=generator), labels

    def objects(self) -> dict[str, Any]:
        """Everything whose state a checkpoint must hold."""
        objects = {"G": self.G, "D": self.D, "opt_g": self.opt_g, "opt_d": self.opt_d, "snapshots": self.snapshots}
        if self.G_avg is not None:
            objects["G_avg"] = self.G_avg
        return objects

    def train(
        self,
        n_steps: int,
        checkpoint: str | Path | None = None,
        every: int = 100,
        evaluate: Callable[[int], dict[str, float]] | None = None,
        eval_every: int = 0,
        snapshot_every: int = 0,
        desc: str = "GAN",
        progress: bool = True,
    ) -> list[dict[str, float]]:
        """Train to n_steps (resuming from checkpoint); snapshot every snapshot_every steps and at the end,
        evaluate every eval_every steps before the end (the final evaluation is the caller's)."""

        def step(i: int) -> dict[str, float]:
            """One training step plus the periodic evaluation and snapshot."""
            metrics = self.step(i)
            done = i + 1
            if snapshot_every and (done % snapshot_every == 0 or done == n_steps):
                self.snapshots.images[done] = self.sample(self.fixed_z, self.fixed_labels)
            if evaluate is not None and eval_every and done % eval_every == 0 and done < n_steps:
                metrics.update(evaluate(done))
            return metrics

        return run_loop(step, n_steps, self.objects(), checkpoint=checkpoint, every=every, desc=desc, progress=progress)


def summarize_history(history: list[dict[str, float]], n_points: int = 500) -> dict[str, np.ndarray]:
    """Average every metric over consecutive bins of steps (at most n_points bins); FID-like sparse keys kept as is."""
    if not history:
        raise ValueError("empty history")
    dense = sorted(k for k in history[0] if k != "step" and all(k in h for h in history))
    steps = np.array([h["step"] for h in history], dtype=np.float64) + 1
    bins = np.array_split(np.arange(len(history)), min(n_points, len(history)))
    out = {"step": np.array([steps[b].mean() for b in bins])}
    for k in dense:
        values = np.array([h[k] for h in history], dtype=np.float64)
        out[k] = np.array([values[b].mean() for b in bins])
    sparse = sorted({k for h in history for k in h} - set(dense) - {"step"})
    for k in sparse:
        out[f"{k}_step"] = np.array([h["step"] + 1 for h in history if k in h], dtype=np.float64)
        out[k] = np.array([h[k] for h in history if k in h], dtype=np.float64)
    return out
