"""AdjointBackMap v1/v2: the reconstruction identity, every RM, relations between RMs, cross-checks, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gancnn.adjoint import backmap as adjoint
from gancnn.adjoint import folding
from gancnn.adjoint.backmap import AdjointBackMap, UnsupportedModelError
from gancnn.models.resnet20 import FixupResNet20, ResNet20BN
from gancnn.models.vgg7 import VGG7
from model_helpers import randomised


def trained(model: nn.Module, steps: int = 3) -> nn.Module:
    """A few SGD steps on random labelled data (weights that gradient descent produced)."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 3, 16, 16, generator=g), torch.randint(0, 10, (16,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval().double()


def images(n: int = 2, size: int = 16) -> torch.Tensor:
    """Random float64 input images."""
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


V1_MODELS = {
    "vgg7": lambda: randomised(VGG7()),
    "fixup": lambda: randomised(FixupResNet20()),
    "vgg7-trained": lambda: trained(VGG7()),
}
V2_MODELS = {
    "vgg7-bn": lambda: folding.equivalent_model(randomised(VGG7(batchnorm=True))),
    "resnet20-bn": lambda: folding.equivalent_model(randomised(ResNet20BN())),
    "fixup-bias": lambda: folding.equivalent_model(randomised(FixupResNet20(bias=True))),
    "vgg7-bn-trained": lambda: folding.equivalent_model(trained(VGG7(batchnorm=True))),
}


@pytest.mark.parametrize("name,version", [(n, 1) for n in V1_MODELS] + [(n, 2) for n in V2_MODELS])
def test_identity_all_units_jvp(name: str, version: int) -> None:
    """c = J(x/8) [x; x_b] for every unit of every layer (float64: relative error far below 1e-8)."""
    model = (V1_MODELS if version == 1 else V2_MODELS)[name]()
    abm = AdjointBackMap(model, version=version)
    res = abm.verify(images())
    assert list(res) == abm.layers
    for layer, (c, p) in res.items():
        scale = c.abs().max()
        assert scale > 0, layer
        assert (p - c).abs().max() <= 1e-10 * scale, layer


@pytest.mark.parametrize("name,version", [(n, 1) for n in V1_MODELS] + [(n, 2) for n in V2_MODELS])
def test_verify_units_from_the_jvp_primal_equal_a_forward_pass(name: str, version: int) -> None:
    """c = primal(z) / k equals the units of a separate forward pass at x, and the homogeneity gap is rounding."""
    model = (V1_MODELS if version == 1 else V2_MODELS)[name]()
    abm = AdjointBackMap(model, version=version)
    x = images()
    forward = abm.all_units(x)
    for layer, (c, _) in abm.verify(x).items():
        assert (c - forward[layer]).abs().max() <= 1e-12 * forward[layer].abs().max(), layer
    assert abm.homogeneity_gap(x) <= 1e-12


def gated_net() -> nn.Module:
    """A small network with every gate the twin pass handles: ReLU, leaky ReLU and max pooling, with biases."""
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.MaxPool2d(2),
        nn.LeakyReLU(0.1),
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    ).double()


TWIN_CASES = [(n, 1) for n in V1_MODELS] + [(n, 2) for n in V2_MODELS] + [("gated", 2)]


@pytest.mark.parametrize("name,version", TWIN_CASES)
def test_twin_pass_equals_the_jvp(name: str, version: int) -> None:
    """The twin pass ([z; x] in one batch, gates from the primal half) gives the jvp's units and tangents."""
    model = gated_net() if name == "gated" else (V1_MODELS if version == 1 else V2_MODELS)[name]()
    abm = AdjointBackMap(model, version=version)
    x = images()
    twin, reference = abm.verify(x, method="twin"), abm.verify(x, method="jvp")
    assert list(twin) == list(reference) == abm.layers
    for layer in abm.layers:
        (c_t, p_t), (c_j, p_j) = twin[layer], reference[layer]
        scale = c_j.abs().max()
        assert (c_t - c_j).abs().max() <= 1e-12 * scale, layer
        assert (p_t - p_j).abs().max() <= 1e-12 * scale, layer
        assert (p_t - c_t).abs().max() <= 1e-10 * scale, layer
    assert torch.equal(model(x), model(x))  # the overrides are gone: the model runs as itself
    assert all("forward" not in vars(m) for m in model.modules())


def test_twin_pass_tangent_is_the_derivative_not_the_primal() -> None:
    """Along a direction other than the input, the twin tangent is J(z) v (the jvp), not f(v): the gates are z's."""
    model = gated_net()
    abm = AdjointBackMap(model, version=2)
    x = images()
    twin = abm._twin_units(x, 0.125, abm.layers)
    v = torch.randn_like(x)
    f = abm._units_of(abm.layers)
    primal, tangent = torch.func.jvp(f, (0.125 * x, 0.125 * abm.x_b), (x, abm.x_b))
    # the primal half of the twin pass is the network at z = k [x; x_b] (the jvp's primal), layer by layer
    assert len(twin[0]) == len(primal) == len(abm.layers)
    for c, z in zip(twin[0], primal):
        assert (c - z).abs().max() <= 1e-12 * z.abs().max()
    # the twin pass with the primal half at z and the tangent half at [x; x_b] reproduces the jvp along [x; x_b] ...
    for t, j in zip(twin[1], tangent):
        assert (t - j).abs().max() <= 1e-12 * j.abs().max()
    # ... while a forward pass at another point v uses v's own gates, so it is not that tangent
    at_v = f(v, abm.x_b)
    assert any((a - j).abs().max() > 1e-3 * j.abs().max() for a, j in zip(at_v, tangent))


def test_twin_pass_rejects_an_unknown_method() -> None:
    """Only 'twin' and 'jvp' exist."""
    with pytest.raises(ValueError, match="method"):
        AdjointBackMap(gated_net(), version=2).verify(images(), method="vjp")


def test_homogeneity_gap_sees_an_activation_that_is_not_homogeneous() -> None:
    """Swap a ReLU for ReLU6 after the checks: f(x/8)/8 and f(x) differ, and the gap says so."""
    model = randomised(VGG7())
    abm = AdjointBackMap(model, version=1)
    relus = [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
    parent, _, child = relus[0].rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, nn.ReLU6())
    abm._modules = dict(model.named_modules())
    x = 50 * images()
    assert abm.homogeneity_gap(x) > 1e-3


def test_jvp_reconstruction_is_not_trivial() -> None:
    """The check would fail for a wrong k-scaling point of a biased net without x_b (the bias matters)."""
    abm = AdjointBackMap(V2_MODELS["vgg7-bn"](), version=2)
    x = images()
    c = abm.all_units(x)
    f = lambda xi: tuple(abm.all_units(xi, abm.x_b).values())  # noqa: E731  bias held fixed, not an input
    _, p = torch.func.jvp(f, (x / 8,), (x,))
    assert max(float((pi - ci).abs().max() / ci.abs().max()) for ci, pi in zip(c.values(), p)) > 1e-3


@pytest.mark.parametrize(
    "name,version,layer",
    [
        ("vgg7", 1, "features.conv3"),
        ("fixup", 1, "blocks.3.conv1"),
        ("resnet20-bn", 2, "blocks.4.conv2"),
        ("fixup-bias", 2, "blocks.1.conv2"),
    ],
)
def test_every_rm_reconstructs_and_rms_are_related(name: str, version: int, layer: str) -> None:
    """<[x; x_b], H> equals the unit for RM1-RM4 (and RM0); RM3 = sum_s RM4, RM2 = sum_j RM4, RM1 = sum RM2."""
    abm = AdjointBackMap((V1_MODELS if version == 1 else V2_MODELS)[name](), version=version)
    x = images(1, 4)[0]
    c_in, c_out, ho, wo = abm.units(x[None], layer, "RM4").shape[1:]
    outs = torch.tensor([3])  # one out-channel i, all in-channels j and positions s
    grid4 = torch.arange(c_in * c_out * ho * wo).view(c_in, c_out, ho, wo)[:, outs]
    grid3 = torch.arange(c_in * c_out).view(c_in, c_out)[:, outs]
    grid2 = torch.arange(c_out * ho * wo).view(c_out, ho, wo)[outs]
    h = {
        "RM4": abm.hypersurfaces(x, layer, "RM4", units=grid4.flatten(), chunk_size=512),
        "RM3": abm.hypersurfaces(x, layer, "RM3", units=grid3.flatten()),
        "RM2": abm.hypersurfaces(x, layer, "RM2", units=grid2.flatten()),
        "RM1": abm.hypersurfaces(x, layer, "RM1", units=outs),
        "RM0": abm.hypersurfaces(x, abm.layers[-1], "RM0"),
    }
    for mode, hs in h.items():
        assert torch.allclose(hs.reconstruct(x, abm.x_b), hs.values, rtol=1e-9, atol=1e-9 * hs.values.abs().max()), mode
    n_out = len(outs)
    for part in ("image", "bias"):
        rm4 = getattr(h["RM4"], part).reshape(c_in, n_out, ho * wo, -1)
        rm3 = getattr(h["RM3"], part).reshape(c_in, n_out, -1)
        rm2 = getattr(h["RM2"], part).reshape(n_out, ho * wo, -1)
        rm1 = getattr(h["RM1"], part).reshape(n_out, -1)
        assert torch.allclose(rm4.sum(2), rm3, atol=1e-10), part  # eq. 3.9: sum over stride moves s
        assert torch.allclose(rm4.sum(0), rm2, atol=1e-10), part  # eq. 3.10: sum over in-channels j
        assert torch.allclose(rm2.sum(1), rm1, atol=1e-10), part  # eq. 3.11
        assert torch.allclose(rm3.sum(0), rm1, atol=1e-10), part


def test_vjp_matches_explicit_jacobian_and_scale_invariance() -> None:
    """H from vmapped vjp equals rows of the explicit Jacobian (jacrev); H(x/8) = H(x)."""
    abm = AdjointBackMap(V1_MODELS["vgg7"](), version=1)
    x = images(1, 8)[0]
    units = [0, 5, 77, 300]
    h = abm.hypersurfaces(x, "features.conv2", "RM2", units=units)
    jac = torch.func.jacrev(lambda xi: abm.units(xi[None], "features.conv2", "RM2")[0].reshape(-1))(x / 8)
    assert torch.allclose(h.image, jac[units], atol=1e-12)
    h1 = abm.hypersurfaces(x, "features.conv2", "RM2", units=units, k=1.0)
    assert torch.allclose(h.image, h1.image, atol=1e-12)


def test_rm0_equals_gradient_times_input() -> None:
    """RM0 of a bias-free ReLU net: H_k is the plain-autograd gradient at x; summed gradient x input is the logit."""
    model = V1_MODELS["vgg7-trained"]()
    abm = AdjointBackMap(model, version=1)
    x = images(1)
    h = abm.hypersurfaces(x[0], "fc", "RM0")
    logits = model(x)[0].detach()
    for k in range(10):
        ixg = adjoint.input_x_gradient(model, x, k)[0]
        assert torch.allclose(ixg, h.image[k] * x[0], atol=1e-12)
        assert torch.allclose(ixg.sum(), logits[k], atol=1e-10)


def test_v2_full_gradient_decomposition() -> None:
    """f(x) = <grad_x f, x> + sum_l <grad_b_l f, b_l>, and the two terms are RM0's image and bias parts."""
    model = V2_MODELS["resnet20-bn"]()
    abm = AdjointBackMap(model, version=2)
    x = images(1)
    h = abm.hypersurfaces(x[0], "fc", "RM0")
    logits = model(x)[0].detach()
    for k in (0, 7):
        img, bias = adjoint.bias_gradient_decomposition(model, x, k)
        assert torch.allclose(img + bias, logits[k], atol=1e-10)
        assert torch.allclose(img, (h.image[k] * x[0]).sum(), atol=1e-10)
        assert torch.allclose(bias, h.bias[k] @ abm.x_b, atol=1e-10)


def test_relative_error_definition() -> None:
    """(p - c) / c with zeros of c replaced by the smallest positive float32."""
    c = torch.tensor([2.0, 0.0, -4.0])
    p = torch.tensor([2.02, 0.0, -4.0])
    e = adjoint.relative_error(p, c)
    assert torch.allclose(e, torch.tensor([0.01, 0.0, 0.0]))
    assert adjoint.relative_error(torch.tensor([1e-30]), torch.tensor([0.0])) > 1e7


def test_verify_batches_statistics() -> None:
    """Per-layer statistics count every unit and report throughput."""
    abm = AdjointBackMap(V1_MODELS["vgg7"]().float(), version=1)
    out = adjoint.verify_batches(abm, [images(2, 8).float()])
    assert out["n_units"] == sum(v["n"] for v in out["layers"].values()) > 0
    assert all(v["percent_within"] > 99 for v in out["layers"].values())
    assert out["units_per_second"] > 0
    assert out["method"] == adjoint.VERIFY_METHODS["twin"] and 0 <= out["homogeneity_gap_first_batch"] <= 1e-5
    with pytest.raises(ValueError, match="method"):
        adjoint.verify_batches(abm, [images()], method="forward")


@pytest.mark.parametrize("act", [nn.Tanh(), nn.GELU(), nn.Sigmoid()])
def test_refuses_non_piecewise_linear_activations(act: nn.Module) -> None:
    """A smooth activation is refused with its layer name."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), act, nn.Conv2d(4, 4, 3, bias=False))
    with pytest.raises(UnsupportedModelError, match=r"layer '1' \(" + type(act).__name__):
        AdjointBackMap(model, version=1)


def test_refuses_bn_unknown_layers_bias_and_bad_modes() -> None:
    """BN must be folded; unknown layers are named; v1 refuses biases; the first conv and wrong modes fail."""
    with pytest.raises(UnsupportedModelError, match="features.bn0.*fold"):
        AdjointBackMap(VGG7(batchnorm=True), version=2)
    with pytest.raises(UnsupportedModelError, match="'1' \\(Upsample\\)"):
        AdjointBackMap(nn.Sequential(nn.Conv2d(3, 3, 3), nn.Upsample(scale_factor=2)), version=2)
    with pytest.raises(UnsupportedModelError, match="bias-free"):
        AdjointBackMap(folding.equivalent_model(VGG7(batchnorm=True)), version=1)
    abm = AdjointBackMap(VGG7(), version=1)
    x = torch.randn(3, 8, 8)
    with pytest.raises(ValueError, match="first conv"):
        abm.hypersurfaces(x, "features.conv0", "RM2")
    with pytest.raises(ValueError, match="RM0"):
        abm.hypersurfaces(x, "features.conv1", "RM0")
    with pytest.raises(ValueError, match="only has mode RM0"):
        abm.hypersurfaces(x, "fc", "RM2")


def test_class_hypersurfaces_batch_equals_per_image() -> None:
    """One backward pass for a batch gives each image's own RM0 hypersurface of its chosen class."""
    abm = AdjointBackMap(V1_MODELS["vgg7"](), version=1)
    x = images(3, 8)
    classes = torch.tensor([2, 0, 7])
    batch = adjoint.class_hypersurfaces(abm, x, classes)
    for i in range(3):
        single = abm.hypersurfaces(x[i], "fc", "RM0", units=[int(classes[i])]).image[0]
        assert torch.allclose(batch[i], single, atol=1e-12)


def test_spectral_fraction() -> None:
    """A slow cosine has no energy above Nyquist/2; white noise has most of its energy there."""
    noise = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert float(adjoint.high_frequency_fraction(noise).mean()) > 0.6
    smooth = torch.cos(2 * torch.pi * torch.arange(32) / 32).expand(1, 3, 32, 32)
    assert float(adjoint.high_frequency_fraction(smooth)) < 1e-12
    checker = (-1.0) ** (torch.arange(32)[:, None] + torch.arange(32)[None, :])
    assert float(adjoint.high_frequency_fraction(checker.expand(1, 3, 32, 32))) > 0.999


def test_spectral_fraction_is_the_exact_energy_share_above_half_nyquist_without_dc() -> None:
    """Cosines at 1/4 and 3/4 of Nyquist plus a constant: the share is b^2 / (a^2 + b^2) (DC excluded, radial)."""
    j = torch.arange(32, dtype=torch.float64)
    wave = lambda cycles, idx: torch.cos(2 * torch.pi * cycles * idx / 32)  # noqa: E731  cycles per 32 pixels
    a, b = 2.0, 0.5
    mix = 7.0 + a * wave(4, j)[None, :] + b * wave(12, j)[:, None]  # 4/16 and 12/16 of Nyquist, and a DC offset
    x = mix.expand(2, 3, 32, 32).clone()
    x[1] = x[1] * torch.tensor([1.0, -2.0, 0.5]).view(3, 1, 1)  # scaling channels keeps the share (energy summed)
    share = adjoint.high_frequency_fraction(x)
    assert torch.allclose(share, torch.full((2,), b**2 / (a**2 + b**2), dtype=torch.float64), atol=1e-12)
    assert float(adjoint.high_frequency_fraction(x, cutoff=0.8).max()) < 1e-12  # 3/4 Nyquist is below 0.8
    # a diagonal wave at 6/16 of Nyquist on each axis has radial frequency 0.53 Nyquist: all of it is counted
    diagonal = wave(6, j[:, None] + j[None, :]).expand(1, 1, 32, 32)
    assert float(adjoint.high_frequency_fraction(diagonal)) == pytest.approx(1.0, abs=1e-12)


def test_chain_recurrence_matches_autograd() -> None:
    """The explicit recurrence (eq. 3.20) gives C_l = J_l [x; x_b]; J_l equals autograd's Jacobian of the FC layer."""
    eq = V2_MODELS["vgg7-bn"]()
    layout = folding.bias_layout(eq)
    x_b = folding.gather(eq, layout)
    x = images(1, 4)[0]
    rec = adjoint.chain_recurrence(eq, x, layout, x_b)
    v = torch.cat([x.reshape(-1), x_b])
    for _, c, jac in rec:
        assert torch.allclose(jac @ v, c, atol=1e-12)
    jac_fc = torch.func.jacrev(
        lambda f: folding.call_with_bias(eq, layout, f[: x.numel()].reshape(1, *x.shape), f[x.numel() :])[0]
    )(v)
    assert torch.allclose(rec[-1][2], jac_fc, atol=1e-12)


def test_verify_by_hypersurfaces_sampled_route() -> None:
    """The explicit <x, H> route on sampled units reproduces every sampled unit and counts them per layer."""
    abm = AdjointBackMap(V2_MODELS["fixup-bias"]().float(), version=2)
    out = adjoint.verify_by_hypersurfaces(abm, images(1, 8).float(), n_units=8)
    assert out["order"] == abm.layers
    assert all(out["layers"][n]["n"] == 8 for n in abm.layers)
    assert all(out["layers"][n]["percent_within"] == 100.0 for n in abm.layers)


def test_scale_free_error_is_the_worst_absolute_error_over_the_largest_unit() -> None:
    stats = adjoint.LayerStats(tol=0.01, bins=np.linspace(-12, 4, 65))
    c = torch.tensor([1e-8, 2.0, -4.0], dtype=torch.float64)
    # the tiny unit misses 1% by far; the scale-free error stays small
    p = c + torch.tensor([1e-7, 0.0, 2e-6], dtype=torch.float64)
    stats.add(c, p)
    stats.add(torch.tensor([0.5]), torch.tensor([0.5]))
    summary = stats.summary()
    assert summary["percent_within"] == 75.0
    assert np.isclose(summary["scale_free_error"], 2e-6 / 4.0, rtol=1e-5)
    assert np.isclose(summary["max_abs_err"], 2e-6, rtol=1e-5)


def _layer_stats_reference(c: torch.Tensor, p: torch.Tensor, tol: float, bins: np.ndarray, keep: int) -> dict:
    """The statistics of LayerStats.add written plainly in float64 (the slow form it replaced)."""
    c64 = c.flatten().double()
    e = adjoint.relative_error(p, c).abs().flatten().double()
    bad = e > tol
    return {
        "n": e.numel(),
        "n_within": int((e <= tol).sum()),
        "n_zero_error": int((e == 0).sum()),
        "hist": np.histogram(np.log10(e[e > 0].numpy()), bins=bins)[0].tolist(),
        "max_abs_c": float(c64.abs().max()),
        "max_abs_err": float((p - c).abs().max()),
        "median_abs_c": float(c64.abs().median()),
        "bad_abs_c": c64.abs()[bad][:keep].tolist(),
        "bad_abs_err": (p - c).abs().flatten().double()[bad][:keep].tolist(),
        "bad_rel": e[bad][:keep].tolist(),
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_layer_stats_match_a_plain_float64_computation(dtype: torch.dtype) -> None:
    """Native-precision counting and the sort-free histogram give exactly the float64 reference's statistics."""
    gen = torch.Generator().manual_seed(3)
    c = torch.randn(4000, generator=gen, dtype=torch.float64).to(dtype)
    scale = 10.0 ** torch.empty(4000, dtype=torch.float64).uniform_(-13, 5, generator=gen)
    p = (c.double() * (1 + scale * torch.randn(4000, generator=gen, dtype=torch.float64))).to(dtype)
    p[:500] = c[:500]  # exact reconstructions
    c[500:510] = 0.0  # units that are zero (the error divides by the smallest normal float32)
    tol = 0.01
    p[510] = c[510] * (1 + torch.tensor(tol, dtype=dtype))  # an error right at the threshold
    bins = np.linspace(-12, 4, 65)
    edges = torch.tensor(10.0 ** bins[[0, 7, 40, 64]], dtype=torch.float64)
    c[520:524], p[520:524] = 1.0, (1.0 + edges).to(dtype)  # errors on bin edges, the last edge included
    stats = adjoint.LayerStats(tol=tol, bins=bins)
    stats.add(c, p, keep=300)
    got, want = stats.summary(), _layer_stats_reference(c, p, tol, bins, keep=300)
    for key, value in want.items():
        assert got[key] == value, key
    assert 0 < got["n_zero_error"] < got["n"] and 0 < sum(got["hist"]) and len(got["bad_rel"]) == 300


def test_histogram_takes_numpy_counts_for_any_edges() -> None:
    """The equal-width shortcut and uneven edges both give np.histogram's counts."""
    values = np.concatenate([np.random.default_rng(0).uniform(-13, 5, 10_000), np.linspace(-12, 4, 65)])
    for bins in (np.linspace(-12, 4, 65), np.array([-12.0, -3.0, -1.0, 0.5, 4.0])):
        assert adjoint.histogram(values, bins).tolist() == np.histogram(values, bins=bins)[0].tolist()


def test_layer_stats_median_is_the_first_batch_and_counts_cover_all() -> None:
    """Two batches: counts and maxima over both, the median |c| of the first alone."""
    stats = adjoint.LayerStats(tol=0.01, bins=np.linspace(-12, 4, 65))
    first, second = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([100.0, 200.0, 300.0, 400.0])
    stats.add(first, first)
    stats.add(second, second * 1.5)
    summary = stats.summary()
    assert summary["median_abs_c"] == 2.0
    assert (summary["n"], summary["n_within"], summary["max_abs_c"]) == (7, 3, 400.0)
