"""AdjointBackMap (bias-free CNNs, source ch. 2) and AdjointBackMapV2 (bias as an extra input, ch. 3).

For a network N built from convolutions, linear layers, average/max pooling and (leaky) ReLU, and
without bias, every pre-activation unit c is positively homogeneous of degree one in the input:
c(kx) = k c(x) for k > 0, so Euler's identity gives c(x) = <grad c(x), x> and the gradient is the same
at x and at z(x) = kx. The gradient (the adjoint of the Jacobian applied to the unit's kernel row) is the
unit's *effective hypersurface* H. With biases, the same holds for the pair [x; x_b] once every bias
is fed in as the input x_b (see `gancnn.adjoint.folding`): H splits into an image part and a bias part.

Here H is computed with `torch.func.vjp` (vmapped over one-hot cotangents), never as an explicit
Jacobian, in the five reconstruction modes of the source:

* RM4: one in-channel kernel j -> out-channel i at one position s   (units of shape c_in x c_out x Ho x Wo)
* RM3: RM4 summed over positions (global pooling of the in-channel convolved map) (c_in x c_out)
* RM2: all in-channels merged: one unit of the conv output             (c_out x Ho x Wo)
* RM1: RM2 summed over positions                                      (c_out)
* RM0: one output of the FC layer                                     (K)

The identity c = <[x; x_b], H(z([x; x_b]))> is checked for all units of all layers at once with one
`torch.func.jvp`: J(z) [x; x_b] is a forward-mode derivative along the input itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import jvp, vjp, vmap

from gancnn.adjoint.folding import BiasLayout, bias_layout, gather, restrict
from gancnn.models.resnet20 import BNBlock, FixupBlock, FixupResNet20, Multiplier, ResNet20BN, ScalarBias, ShortcutA
from gancnn.models.vgg7 import VGG7
from gancnn.train import keep_freed_memory

MODES = ("RM0", "RM1", "RM2", "RM3", "RM4")
VERIFY_METHODS = {  # how `verify_batches` records each route of `AdjointBackMap.verify`
    "jvp": "jvp primal / k",
    "twin": "twin pass [z; x]: primal / k and tangent, gates from z",
}
K_DEFAULT = 1.0 / 8.0  # z(x) = x / 8, the source's choice (a power of two: scaling is exact in floating point)
PIECEWISE_LINEAR_LEAVES = (
    nn.Conv2d,
    nn.Linear,
    nn.ReLU,
    nn.LeakyReLU,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
    nn.Identity,
    nn.Dropout,
    ScalarBias,
    Multiplier,
    ShortcutA,
)
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict, VGG7, FixupResNet20, ResNet20BN, FixupBlock, BNBlock)


class UnsupportedModelError(ValueError):
    """The network has a layer for which the AdjointBackMap identity does not hold."""


def check_model(model: nn.Module, version: int) -> None:
    """Refuse layers whose derivative is not piecewise constant, batch norm, unknown layers, and (v1) biases."""
    for name, module in model.named_modules():
        label = name or "<root>"
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            raise UnsupportedModelError(
                f"layer '{label}' is batch norm: fold it first with "
                "gancnn.adjoint.folding.equivalent_model (eq. 3.6) and use AdjointBackMapV2"
            )
        if isinstance(
            module,
            (
                nn.Tanh,
                nn.Sigmoid,
                nn.GELU,
                nn.SiLU,
                nn.ELU,
                nn.Softplus,
                nn.Mish,
                nn.SELU,
                nn.CELU,
                nn.Hardswish,
                nn.Softmax,
                nn.LogSoftmax,
            ),
        ):
            raise UnsupportedModelError(
                f"layer '{label}' ({type(module).__name__}) has a derivative that is not piecewise constant: "
                "the reconstruction c = <x, H(z(x))> does not hold for it"
            )
        if isinstance(module, CONTAINERS):
            continue
        if not isinstance(module, PIECEWISE_LINEAR_LEAVES):
            raise UnsupportedModelError(
                f"layer '{label}' ({type(module).__name__}) is not supported: "
                f"allowed layers are {[c.__name__ for c in PIECEWISE_LINEAR_LEAVES]}"
            )
    if version == 1:
        biased = [n for n, _ in model.named_parameters() if n.endswith("bias")]
        if biased:
            raise UnsupportedModelError(
                f"AdjointBackMap v1 needs a bias-free network, but {biased[:3]}... carry biases: use version=2"
            )
    elif version != 2:
        raise ValueError(f"version must be 1 or 2, got {version!r}")


class _Stop(Exception):
    """Carries the units out of a forward pass cut short after the analysed layer."""

    def __init__(self, value: torch.Tensor) -> None:
        """Store the value."""
        super().__init__("stop")
        self.value = value


def units_from_input(module: nn.Module, inp: torch.Tensor, mode: str) -> torch.Tensor:
    """Compute a layer's bias-free units from its input for a mode (batch dimension first)."""
    if isinstance(module, nn.Linear):
        if mode != "RM0":
            raise ValueError(f"the FC layer only has mode RM0, got {mode}")
        return F.linear(inp, module.weight)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"units are defined for Conv2d and Linear layers, got {type(module).__name__}")
    if mode == "RM0":
        raise ValueError("RM0 is the FC layer's mode; use RM1-RM4 on a conv layer")
    w = module.weight
    args = dict(stride=module.stride, padding=module.padding, dilation=module.dilation)
    if mode in ("RM2", "RM1"):
        out = F.conv2d(inp, w, None, groups=module.groups, **args)
    else:
        if module.groups != 1:
            raise ValueError("RM3/RM4 need an ungrouped convolution")
        c_out, c_in, kh, kw = w.shape
        split = w.transpose(0, 1).reshape(c_in * c_out, 1, kh, kw)  # in-channel j, out-channel i -> j*c_out + i
        out = F.conv2d(inp, split, None, groups=c_in, **args)
        out = out.view(out.shape[0], c_in, c_out, *out.shape[-2:])
    return out.sum(dim=(-2, -1)) if mode in ("RM1", "RM3") else out


@dataclass
class Hypersurfaces:
    """Effective hypersurfaces of chosen units: image part (n, C, H, W), bias part (n, M), unit values."""

    image: torch.Tensor
    bias: torch.Tensor
    units: torch.Tensor
    values: torch.Tensor
    unit_shape: tuple[int, ...]

    def reconstruct(self, x: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """Return <x, H_I> + <x_b, H_b> for every unit (eqs. 2.16/2.17, 3.27/3.28)."""
        return (self.image * x).flatten(1).sum(1) + self.bias @ x_b


@dataclass
class LayerStats:
    """Relative errors of one layer accumulated over images: counts, histogram, the worst units."""

    tol: float
    bins: np.ndarray
    n: int = 0
    n_within: int = 0
    hist: np.ndarray | None = None
    n_zero_error: int = 0
    bad_abs_c: list[float] = field(default_factory=list)
    bad_abs_err: list[float] = field(default_factory=list)
    bad_rel: list[float] = field(default_factory=list)
    max_abs_c: float = 0.0
    max_abs_err: float = 0.0
    median_abs_c: float | None = None  # of the first batch

    def add(self, c: torch.Tensor, p: torch.Tensor, keep: int = 2000) -> None:
        """Accumulate one batch of true units c and reconstructions p.

        Counts and maxima cover every batch; the median |c| is the first batch's (a median costs a sort). All of
        it runs in the units' own precision: comparisons, maxima and order statistics of float32 values are
        exact, and a float32 e satisfies e <= tol (a double) exactly when e <= float32(tol). Only the nonzero
        errors are widened to float64, for the log10 histogram.
        """
        c, p = c.detach().flatten(), p.detach().flatten()
        diff = (p - c).abs()
        e = relative_error(p, c).abs()
        self.n += e.numel()
        self.n_within += int((e <= self.tol).sum())
        self.n_zero_error += int((e == 0).sum())
        counts = histogram(np.log10(e[e > 0].double().numpy()), self.bins)
        self.hist = counts if self.hist is None else self.hist + counts
        absc = c.abs()
        self.max_abs_c = max(self.max_abs_c, float(absc.max()))
        self.max_abs_err = max(self.max_abs_err, float(diff.max()))
        if self.median_abs_c is None:
            self.median_abs_c = float(absc.median())
        bad = e > self.tol
        if len(self.bad_abs_c) < keep and bad.any():
            room = keep - len(self.bad_abs_c)
            self.bad_abs_c += absc[bad][:room].double().tolist()
            self.bad_abs_err += diff[bad][:room].double().tolist()
            self.bad_rel += e[bad][:room].double().tolist()

    def percent_within(self) -> float:
        """Percentage of units with |relative error| <= tol."""
        return 100.0 * self.n_within / max(self.n, 1)

    def scale_free_error(self) -> float:
        """max |p - c| / max |c| over the layer: the headline error that does not blow up at units near zero."""
        if self.max_abs_c > 0:
            return self.max_abs_err / self.max_abs_c
        return 0.0 if self.max_abs_err == 0 else float("inf")

    def summary(self) -> dict:
        """A JSON-friendly summary."""
        return {
            "n": self.n,
            "n_within": self.n_within,
            "percent_within": self.percent_within(),
            "n_zero_error": self.n_zero_error,
            "hist": (self.hist if self.hist is not None else np.zeros(len(self.bins) - 1, dtype=np.int64)).tolist(),
            "bad_abs_c": self.bad_abs_c,
            "bad_abs_err": self.bad_abs_err,
            "bad_rel": self.bad_rel,
            "max_abs_c": self.max_abs_c,
            "max_abs_err": self.max_abs_err,
            "scale_free_error": self.scale_free_error(),
            "median_abs_c": 0.0 if self.median_abs_c is None else self.median_abs_c,
        }


def histogram(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """np.histogram counts of values over bin edges; equal-width edges take numpy's sort-free path (same counts)."""
    n = len(bins) - 1
    if n > 0 and np.array_equal(bins, np.linspace(bins[0], bins[-1], n + 1)):
        return np.histogram(values, bins=n, range=(float(bins[0]), float(bins[-1])))[0]
    return np.histogram(values, bins=bins)[0]


def relative_error(p: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(p - c) / c_{!=0} with zeros of c replaced by the smallest positive normal float32 (eqs. 2.18, 3.29)."""
    tiny = torch.tensor(torch.finfo(torch.float32).tiny, dtype=c.dtype)
    return (p - c) / torch.where(c == 0, tiny, c)


class AdjointBackMap:
    """AdjointBackMap (version=1, bias-free network) or AdjointBackMapV2 (version=2, folded network)."""

    def __init__(self, model: nn.Module, version: int = 2) -> None:
        """Check the network, put it in eval mode and collect x_b (empty for v1)."""
        check_model(model, version)
        keep_freed_memory()  # the verification keeps every layer's units: reuse their memory batch after batch
        self.model = model.eval()
        self.version = version
        self.layout: BiasLayout = bias_layout(model, strict=False)  # multipliers are fixed linear maps
        self.x_b = gather(model, self.layout)
        self.dtype = next(model.parameters()).dtype
        modules = dict(model.named_modules())
        convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
        fcs = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
        self.first_conv = convs[0] if convs else None
        self.layers = convs[1:] + fcs[-1:]  # the analysable layers: every conv but the first, and the FC layer
        self._modules = modules

    def _forward(self, x: torch.Tensor, x_b: torch.Tensor, hooks: dict[str, Callable]) -> None:
        """Run the network on [x; x_b] with forward pre-hooks on the named modules."""
        handles = [self._modules[n].register_forward_pre_hook(h) for n, h in hooks.items()]
        try:
            torch.func.functional_call(self.model, restrict(x_b, self.layout), (x,), strict=False)
        finally:
            for h in handles:
                h.remove()

    def _check_layer(self, layer: str, mode: str) -> None:
        """Fail clearly on unknown layers, the first conv, or a mode the layer does not have."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if layer == self.first_conv:
            raise ValueError(f"{layer} is the first conv: its kernels already live in the input space")
        if layer not in self.layers:
            raise ValueError(f"unknown layer {layer!r}; analysable layers: {self.layers}")

    def units(self, x: torch.Tensor, layer: str, mode: str = "RM2", x_b: torch.Tensor | None = None) -> torch.Tensor:
        """Return the bias-free units of `layer` in `mode` for a batch x (N, C, H, W)."""
        self._check_layer(layer, mode)
        x_b = self.x_b if x_b is None else x_b
        module = self._modules[layer]

        def hook(_mod: nn.Module, args: tuple) -> None:
            """Compute the units and stop the forward pass here."""
            raise _Stop(units_from_input(module, args[0], mode))

        try:
            self._forward(x, x_b, {layer: hook})
        except _Stop as stop:
            return stop.value
        raise RuntimeError(f"layer {layer} was not reached in the forward pass")

    def all_units(
        self, x: torch.Tensor, x_b: torch.Tensor | None = None, layers: list[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Return the RM2 units of every conv layer (but the first) and the RM0 units of the FC layer.

        Each chosen layer runs once, as its bias-free units plus its bias (the units are not recomputed).
        """
        x_b = self.x_b if x_b is None else x_b
        layers = self.layers if layers is None else layers
        out: dict[str, torch.Tensor] = {}

        def make_forward(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
            """A layer's forward that stores its bias-free units (and stops after the last wanted layer)."""
            module = self._modules[name]
            conv = isinstance(module, nn.Conv2d)

            def forward(inp: torch.Tensor) -> torch.Tensor:
                """Units, stored; then the bias added as the layer itself would."""
                units = units_from_input(module, inp, "RM2" if conv else "RM0")
                out[name] = units
                if len(out) == len(layers):
                    raise _Stop(torch.zeros(()))
                if module.bias is None:
                    return units
                return units + (module.bias.view(1, -1, 1, 1) if conv else module.bias)

            return forward

        for n in layers:
            self._modules[n].forward = make_forward(n)
        try:
            self._forward(x, x_b, {})
        except _Stop:
            pass
        finally:
            for n in layers:
                del self._modules[n].forward
        return {n: out[n] for n in layers}

    def hypersurfaces(
        self,
        x: torch.Tensor,
        layer: str,
        mode: str,
        units: torch.Tensor | list[int] | None = None,
        k: float = K_DEFAULT,
        chunk_size: int | None = 64,
    ) -> Hypersurfaces:
        """Effective hypersurfaces H(z([x; x_b])) of chosen units (flat indices; None: all) of one image x (C, H, W)."""
        if x.dim() != 3:
            raise ValueError(f"x must be one image (C, H, W), got shape {tuple(x.shape)}")
        self._check_layer(layer, mode)
        x = x.to(self.dtype)
        values = self.units(x[None], layer, mode)[0]
        unit_shape = tuple(values.shape)
        idx = torch.arange(values.numel()) if units is None else torch.as_tensor(units, dtype=torch.long).flatten()

        def f(xi: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
            """The chosen units as a function of [x; x_b]."""
            return self.units(xi[None], layer, mode, x_b=xb)[0].reshape(-1)[idx]

        _, pullback = vjp(f, k * x, k * self.x_b)
        basis = torch.eye(len(idx), dtype=self.dtype)
        h_img, h_bias = vmap(pullback, chunk_size=chunk_size)(basis)
        return Hypersurfaces(h_img.detach(), h_bias.detach(), idx, values.reshape(-1)[idx].detach(), unit_shape)

    def verify(
        self, x: torch.Tensor, k: float = K_DEFAULT, layers: list[str] | None = None, method: str = "twin"
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """For a batch x: units c and reconstructions p = J(z) [x; x_b] of every layer, z = k [x; x_b].

        c is the primal at z divided by k: the network is positively homogeneous in [x; x_b], and for a
        power-of-two k the division is exact (`homogeneity_gap` checks c against a separate forward at x).
        p is the forward-mode derivative along [x; x_b] itself, by one of two routes:

        * "twin" (default): one forward pass of the 2N batch [z; x], whose second half is the tangent. The
          linear layers act on both halves (the bias enters as k b in the primal half and as the tangent b in
          the other), and each gate (ReLU, leaky ReLU, max pool) is decided by the primal half alone and applied
          to both, which is exactly the derivative of the gate at z.
        * "jvp": `torch.func.jvp`, the reference the twin pass is tested against (about 1.5x slower here).
        """
        layers = self.layers if layers is None else layers
        x = x.to(self.dtype)
        with torch.no_grad():
            if method == "twin":
                primal, p = self._twin_units(x, k, layers)
            elif method == "jvp":
                primal, p = jvp(self._units_of(layers), (k * x, k * self.x_b), (x, self.x_b))
            else:
                raise ValueError(f"method must be 'twin' or 'jvp', got {method!r}")
        return {n: (ci / k, pi) for n, ci, pi in zip(layers, primal, p)}

    @torch.no_grad()
    def _twin_units(
        self, x: torch.Tensor, k: float, layers: list[str]
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """Primal units at z = k [x; x_b] and their tangents along [x; x_b], from one pass over the batch [z; x]."""
        n = x.shape[0]
        biases = restrict(self.x_b, self.layout)
        out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

        def halves_bias(b: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
            """The bias of the 2N batch: k b for the primal half, b for the tangent half."""
            scale = torch.cat([torch.full((n,), k, dtype=b.dtype), torch.ones(n, dtype=b.dtype)])
            return scale.view(-1, *([1] * len(shape))) * b.reshape(shape)

        def affine(name: str, module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
            """Conv2d or Linear: bias-free units (stored when analysed), then the per-half bias."""
            conv = isinstance(module, nn.Conv2d)

            def forward(inp: torch.Tensor) -> torch.Tensor:
                """Units of both halves, then the bias as the layer adds it."""
                units = units_from_input(module, inp, "RM2" if conv else "RM0")
                if name in layers:
                    out[name] = (units[:n], units[n:])
                    if len(out) == len(layers):
                        raise _Stop(torch.zeros(()))
                bias_name = f"{name}.bias"
                if bias_name not in biases:
                    return units
                shape = (-1, 1, 1) if conv else (-1,)
                return units + halves_bias(biases[bias_name], shape)

            return forward

        def scalar_bias(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
            """A Fixup scalar bias: k b on the primal half, b on the tangent half."""
            b = biases[f"{name}.bias"]
            return lambda inp: inp + halves_bias(b, (1,) * (inp.dim() - 1))

        def gate(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
            """ReLU or leaky ReLU: the slope chosen by the primal half (z > 0), applied to both halves."""
            negative = module.negative_slope if isinstance(module, nn.LeakyReLU) else 0.0

            def forward(inp: torch.Tensor) -> torch.Tensor:
                """The primal half through the gate itself; the tangent half times the primal half's slopes (one
                pass over each half, written into one output: no slope tensor, no concatenation)."""
                primal, tangent = inp[:n], inp[n:]
                out = torch.empty_like(inp)
                opens = primal > 0
                if negative == 0.0:
                    torch.clamp_min(primal, 0.0, out=out[:n])
                    torch.mul(tangent, opens, out=out[n:])
                else:
                    out[:n] = F.leaky_relu(primal, negative)
                    torch.where(opens, tangent, tangent * negative, out=out[n:])
                return out

            return forward

        def max_pool(module: nn.MaxPool2d) -> Callable[[torch.Tensor], torch.Tensor]:
            """Max pooling: the primal half's winners, taken from both halves."""

            def forward(inp: torch.Tensor) -> torch.Tensor:
                """Pool the primal half with indices; gather the tangent half at the same indices."""
                args = (module.kernel_size, module.stride, module.padding, module.dilation, module.ceil_mode)
                pooled, idx = F.max_pool2d(inp[:n], *args, return_indices=True)
                tangent = inp[n:].flatten(2).gather(2, idx.flatten(2)).view_as(pooled)
                return torch.cat([pooled, tangent])

            return forward

        overrides: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
        for name, module in self._modules.items():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                overrides[name] = affine(name, module)
            elif isinstance(module, ScalarBias):
                overrides[name] = scalar_bias(name)
            elif isinstance(module, (nn.ReLU, nn.LeakyReLU)):
                overrides[name] = gate(module)
            elif isinstance(module, nn.MaxPool2d):
                overrides[name] = max_pool(module)
        for name, forward in overrides.items():
            self._modules[name].forward = forward
        try:
            self.model(torch.cat([k * x, x]))
        except _Stop:
            pass
        finally:
            for name in overrides:
                del self._modules[name].forward
        return tuple(out[m][0] for m in layers), tuple(out[m][1] for m in layers)

    def _units_of(self, layers: list[str]) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]:
        """All chosen layers' units as a function of [x; x_b] (x_b shared by the batch)."""

        def f(xi: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, ...]:
            """The units of every chosen layer."""
            return tuple(self.all_units(xi, xb, layers).values())

        return f

    def homogeneity_gap(self, x: torch.Tensor, k: float = K_DEFAULT) -> float:
        """max over layers of max |f(k [x; x_b]) / k - f([x; x_b])| / max |f([x; x_b])| (a separate forward at x)."""
        x = x.to(self.dtype)
        with torch.no_grad():
            at_x = self._units_of(self.layers)(x, self.x_b)
            at_z = self._units_of(self.layers)(k * x, k * self.x_b)
        return max(float((cz / k - cx).abs().max() / cx.abs().max().clamp_min(1e-30)) for cx, cz in zip(at_x, at_z))


def verify_batches(
    abm: AdjointBackMap,
    batches: list[torch.Tensor] | object,
    tol: float = 0.01,
    bins: np.ndarray | None = None,
    k: float = K_DEFAULT,
    method: str = "twin",
) -> dict:
    """Accumulate per-layer relative-error statistics over batches; time the check against a plain forward.

    `method` is the route of `AdjointBackMap.verify` ("twin" or "jvp"). The first batch is also checked for
    homogeneity (`AdjointBackMap.homogeneity_gap`, untimed): the units the primal gives equal those of a separate
    forward pass at x.
    """
    if method not in VERIFY_METHODS:
        raise ValueError(f"method must be one of {list(VERIFY_METHODS)}, got {method!r}")
    bins = np.linspace(-12, 4, 65) if bins is None else bins
    stats = {n: LayerStats(tol=tol, bins=bins) for n in abm.layers}
    t_jvp = t_fwd = 0.0
    n_images = 0
    gap = float("nan")
    for i, x in enumerate(batches):
        if i == 0:
            gap = abm.homogeneity_gap(x, k=k)
        t0 = time.perf_counter()
        with torch.no_grad():
            abm.model(x.to(abm.dtype))
        t1 = time.perf_counter()
        res = abm.verify(x, k=k, method=method)
        t2 = time.perf_counter()
        t_fwd += t1 - t0
        t_jvp += t2 - t1
        n_images += x.shape[0]
        for n, (c, p) in res.items():
            stats[n].add(c, p)
    n_units = sum(s.n for s in stats.values())
    return {
        "layers": {n: s.summary() for n, s in stats.items()},
        "order": list(abm.layers),
        "bins": bins.tolist(),
        "n_images": n_images,
        "n_units": n_units,
        "seconds_verify": t_jvp,
        "seconds_forward": t_fwd,
        "units_per_second": n_units / max(t_jvp, 1e-12),
        "verify_over_forward": t_jvp / max(t_fwd, 1e-12),
        "method": VERIFY_METHODS[method],
        "homogeneity_gap_first_batch": gap,
    }


def verify_by_hypersurfaces(
    abm: AdjointBackMap,
    x: torch.Tensor,
    n_units: int,
    tol: float = 0.01,
    seed: int = 0,
    k: float = K_DEFAULT,
    bins: np.ndarray | None = None,
) -> dict:
    """The source's route on a random sample of units: build H by vjp, then take <x, H_I> + <x_b, H_b> explicitly.

    Unlike the jvp check, whose tangent arithmetic can coincide op for op with the forward pass, this
    sums in a different order (an inner product over the whole input), so float32 rounding shows.
    """
    bins = np.linspace(-12, 4, 65) if bins is None else bins
    stats = {n: LayerStats(tol=tol, bins=bins) for n in abm.layers}
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for xi in x.to(abm.dtype):
        for layer in abm.layers:
            mode = "RM0" if layer == abm.layers[-1] and isinstance(abm._modules[layer], nn.Linear) else "RM2"
            total = abm.units(xi[None], layer, mode)[0].numel()
            idx = torch.randperm(total, generator=gen)[:n_units]
            h = abm.hypersurfaces(xi, layer, mode, units=idx, k=k, chunk_size=None)
            stats[layer].add(h.values, h.reconstruct(xi, abm.x_b))
    seconds = time.perf_counter() - start
    n = sum(s.n for s in stats.values())
    return {
        "layers": {name: st.summary() for name, st in stats.items()},
        "order": list(abm.layers),
        "bins": bins.tolist(),
        "n_images": int(x.shape[0]),
        "n_units": n,
        "seconds": seconds,
        "units_per_second": n / max(seconds, 1e-12),
    }


def class_hypersurfaces(
    abm: AdjointBackMap, x: torch.Tensor, classes: torch.Tensor, k: float = K_DEFAULT
) -> torch.Tensor:
    """Image parts of the RM0 hypersurfaces of one chosen class per image, for a whole batch in one backward pass.

    Evaluated at z = k [x; x_b], as `AdjointBackMap.hypersurfaces` is: the bias input scales with the image
    (for a v2 network, evaluating at (k x, x_b) would give the gradient at another point).
    """
    x = x.to(abm.dtype)
    rows = torch.arange(x.shape[0])
    x_b = k * abm.x_b

    def total(xi: torch.Tensor) -> torch.Tensor:
        """Sum over images of each image's chosen class score (images do not interact in eval mode)."""
        return abm.units(xi, abm.layers[-1], "RM0", x_b=x_b)[rows, classes].sum()

    return torch.func.grad(total)(k * x).detach()


def input_gradient(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d logit_{targets[i]} / d x_i for a batch, by plain autograd on any module (the RM0 map of a bias-free net)."""
    x = x.detach().clone().requires_grad_(True)
    chosen = model(x).gather(1, targets.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(chosen, x)
    return grad.detach()


def input_x_gradient(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Gradient x input of one logit at x itself (plain autograd, as Captum's InputXGradient computes it)."""
    targets = torch.full((x.shape[0],), target, dtype=torch.long)
    return input_gradient(model, x, targets) * x.detach()


def bias_gradient_decomposition(model: nn.Module, x: torch.Tensor, target: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return <grad_x f, x> and sum_l <grad_{b_l} f, b_l> for logit `target` of one-image batch x (plain autograd)."""
    x = x.detach().clone().requires_grad_(True)
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    out = model(x)[:, target].sum()
    grads = torch.autograd.grad(out, [x] + biases, allow_unused=True)
    image_part = (grads[0] * x).sum().detach()
    bias_part = sum(
        ((g * b).sum() for g, b in zip(grads[1:], biases) if g is not None), start=torch.zeros((), dtype=x.dtype)
    ).detach()
    return image_part, bias_part


def high_frequency_fraction(x: torch.Tensor, cutoff: float = 0.5) -> torch.Tensor:
    """Share of spectral energy (DC excluded) at radial frequency above `cutoff` x Nyquist, per item of (N, C, H, W)."""
    spec = torch.fft.fft2(x.double()).abs().square().sum(1)  # energy summed over channels: (N, H, W)
    fy = torch.fft.fftfreq(x.shape[-2], dtype=torch.float64).abs() * 2  # in units of Nyquist
    fx = torch.fft.fftfreq(x.shape[-1], dtype=torch.float64).abs() * 2
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    spec[:, 0, 0] = 0.0
    return spec[:, radius > cutoff].sum(1) / spec.flatten(1).sum(1)


def centered_log_spectrum(x: torch.Tensor) -> torch.Tensor:
    """log10 |FFT| per channel with the DC term removed and zero frequency in the centre, for plotting."""
    spec = torch.fft.fft2(x.double())
    spec[..., 0, 0] = 0.0
    return torch.log10(torch.fft.fftshift(spec.abs(), dim=(-2, -1)) + 1e-12)


def chain_recurrence(
    model: nn.Module, x: torch.Tensor, layout: BiasLayout, x_b: torch.Tensor
) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Build J_l by the recurrence J_l = W_l Sigma_{l-1} J_{l-1} + [O, R_l] (eq. 3.20) for a chain `fc(features(x))`.

    Every linear piece (conv without bias, pooling, flattening, FC) is turned into an explicit matrix
    with `torch.func.jacrev`; Sigma is the diagonal of the activation's derivative (eq. 3.21). Returns
    (layer name, C_l evaluated by the recurrence's forward pass, J_l) for every conv and the FC layer.
    Meant for small images: the matrices are dense.
    """
    if not (hasattr(model, "features") and hasattr(model, "fc")):
        raise ValueError("chain_recurrence needs a model of the form fc(features(x))")
    chain = [(f"features.{n}", m) for n, m in model.features.named_children()] + [("fc", model.fc)]
    pieces = restrict(x_b, layout)
    d = x.numel()
    v = x.reshape(-1)
    jac = torch.cat([torch.eye(d, dtype=x.dtype), torch.zeros(d, layout.size, dtype=x.dtype)], 1)
    shape = tuple(x.shape)
    out = []
    for name, module in chain:
        if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
            slope = module.negative_slope if isinstance(module, nn.LeakyReLU) else 0.0
            sigma = torch.where(v > 0, torch.ones_like(v), torch.full_like(v, slope))
            v, jac = sigma * v, sigma[:, None] * jac
            continue
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            weight_only = lambda t, m=module: (
                F.conv2d(t, m.weight, None, m.stride, m.padding, m.dilation, m.groups)
                if isinstance(m, nn.Conv2d)
                else F.linear(t, m.weight)
            )
        else:
            weight_only = module
        matrix = torch.func.jacrev(lambda flat: weight_only(flat.reshape(1, *shape)).reshape(-1))(v)
        shape = tuple(weight_only(v.reshape(1, *shape)).shape[1:])
        v, jac = matrix @ v, matrix @ jac
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            bias_name = f"{name}.bias"
            if bias_name in pieces:
                r = layout.restriction_matrix(bias_name, dtype=x.dtype)
                if isinstance(module, nn.Conv2d):  # a channel bias is broadcast over the feature map
                    r = r.repeat_interleave(shape[-2] * shape[-1], dim=0)
                v = v + r @ x_b
                jac = jac + torch.cat([torch.zeros(r.shape[0], d, dtype=x.dtype), r], 1)
            out.append((name, v.clone(), jac.clone()))
    return out


def activation_euler_residual(act: nn.Module, c: torch.Tensor) -> float:
    """max |sigma(c) - sigma'(c) c| with sigma' from autograd: zero exactly when every linear piece passes through 0."""
    c = c.detach().clone().requires_grad_(True)
    out = act(c)
    (deriv,) = torch.autograd.grad(out.sum(), c)
    return float((out - deriv * c).detach().abs().max())


def network_euler_residual(model: nn.Module, x: torch.Tensor) -> float:
    """max |F(x) - J_F(x) x| / max |F(x)| over a batch (one jvp at x, tangent x): zero for a bias-free ReLU network."""
    out, tangent = torch.func.jvp(model, (x,), (x,))
    out, tangent = out.detach(), tangent.detach()
    return float((out - tangent).abs().max() / out.abs().max().clamp_min(1e-300))
