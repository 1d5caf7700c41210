"""Tests for gancnn.conv.arithmetic: the output-size lemmas, convolution as a matrix, transposed convolution."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancnn.conv import arithmetic as conv


def _torch_side(layer: nn.Module, n: int) -> int | None:
    """Output side of a layer on an n x n image, None when torch refuses (float64: the checked reference path)."""
    try:
        with torch.no_grad():
            return layer.double()(torch.zeros(1, 1, n, n, dtype=torch.float64)).shape[-1]
    except RuntimeError:
        return None


def _formula(fn, *args) -> int | None:
    """A lemma's size, None when it rejects the configuration."""
    try:
        return fn(*args)
    except ValueError:
        return None


def test_conv_output_size_matches_torch_on_a_grid() -> None:
    """Lemma 1 agrees with nn.Conv2d, including where both refuse."""
    for kernel, stride, padding, dilation in itertools.product(range(1, 5), range(1, 4), range(0, 3), range(1, 3)):
        layer = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation, bias=False)
        for n in range(1, 9):
            assert _torch_side(layer, n) == _formula(conv.conv_output_size, n, kernel, stride, padding, dilation)


def test_conv_transpose_output_size_matches_torch_on_a_grid() -> None:
    """Lemma 2 agrees with nn.ConvTranspose2d, including invalid output paddings."""
    for kernel, stride, padding, dilation in itertools.product(range(1, 5), range(1, 4), range(0, 3), range(1, 3)):
        for extra in range(max(stride, dilation) + 1):
            layer = nn.ConvTranspose2d(
                1, 1, kernel, stride=stride, padding=padding, output_padding=extra, dilation=dilation, bias=False
            )
            for n in range(1, 7):
                expected = _formula(conv.conv_transpose_output_size, n, kernel, stride, padding, extra, dilation)
                assert _torch_side(layer, n) == expected, (kernel, stride, padding, dilation, extra, n)


def test_stratos_lemmas_are_special_cases() -> None:
    """With dilation 1 and no output padding the lemmas reduce to floor((H+2P-F)/S)+1 and (H-1)S+F-2P."""
    for h, f, s, p in itertools.product(range(5, 12), range(1, 5), range(1, 4), range(0, 3)):
        assert conv.conv_output_size(h, f, s, p) == (h + 2 * p - f) // s + 1
        if (h - 1) * s + f - 2 * p >= 1:
            assert conv.conv_transpose_output_size(h, f, s, p) == (h - 1) * s + f - 2 * p


def test_solve_padding_coursework_cases() -> None:
    """The coursework transitions: solutions exist and are exact, except 32->32 with an even kernel."""
    assert [(s.padding, s.output_padding) for s in conv.solve_padding(32, 16, 4, 2, False)] == [(1, 0)]
    assert [(s.padding, s.output_padding) for s in conv.solve_padding(32, 16, 5, 2, False)] == [(2, 0)]
    assert [(s.padding, s.output_padding) for s in conv.solve_padding(8, 16, 4, 2, True)] == [(1, 0)]
    assert [(s.padding, s.output_padding) for s in conv.solve_padding(16, 32, 5, 2, True)] == [(2, 1)]
    assert conv.solve_padding(32, 32, 4, 1, False) == []
    assert [(s.padding, s.output_padding) for s in conv.solve_padding(32, 32, 5, 1, False)] == [(2, 0)]


def test_solve_padding_finds_exactly_the_paddings_torch_accepts() -> None:
    """solve_padding returns every (P, A), P <= F, A < S, for which torch's layer maps n_in to n_out, and no other."""
    for transposed, kernel, stride in itertools.product((False, True), range(1, 6), (1, 2, 3)):
        sides = {}  # (P, A, n_in) -> the side torch produces
        for padding, extra in itertools.product(range(kernel + 1), range(stride) if transposed else (0,)):
            layer = (
                nn.ConvTranspose2d(1, 1, kernel, stride, padding, extra, bias=False)
                if transposed
                else nn.Conv2d(1, 1, kernel, stride, padding, bias=False)
            )
            sides.update({(padding, extra, n_in): _torch_side(layer, n_in) for n_in in (5, 8)})
        for n_in, n_out in itertools.product((5, 8), (4, 8, 9, 16)):
            found = {(s.padding, s.output_padding) for s in conv.solve_padding(n_in, n_out, kernel, stride, transposed)}
            runs = {(p, a) for (p, a, n), side in sides.items() if n == n_in and side == n_out}
            assert found == runs, (transposed, n_in, n_out, kernel, stride)
    # the doubling exercise: Lemma 2 with N' = 2N needs F - 2P + A = 2
    doubling = [(f, s.padding, s.output_padding) for f in range(1, 6) for s in conv.solve_padding(8, 16, f, 2, True)]
    assert doubling == [(1, 0, 1), (2, 0, 0), (3, 1, 1), (4, 1, 0), (5, 2, 1)]


def test_float32_size_zero_quirk_is_not_our_reference() -> None:
    """Lemma 2 refuses an empty output; torch's float64 path refuses it too (float32 may return size 0)."""
    layer = torch.nn.ConvTranspose2d(1, 1, 4, 1, 2, bias=False)
    assert _formula(conv.conv_transpose_output_size, 1, 4, 1, 2) is None
    assert _torch_side(layer, 1) is None


def test_invalid_geometry_fails_fast() -> None:
    """Nonsense kernels, strides and output paddings raise ValueError."""
    with pytest.raises(ValueError):
        conv.conv_output_size(5, 0)
    with pytest.raises(ValueError):
        conv.conv_output_size(2, 5)
    with pytest.raises(ValueError):
        conv.conv_transpose_output_size(4, 3, stride=2, output_padding=2)


def test_stratos_matrix_example() -> None:
    """The 2x2 kernel on a 3x3 image gives the 4x9 banded matrix of the notes."""
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    expected = torch.tensor(
        [
            [1, 2, 0, 3, 4, 0, 0, 0, 0],
            [0, 1, 2, 0, 3, 4, 0, 0, 0],
            [0, 0, 0, 1, 2, 0, 3, 4, 0],
            [0, 0, 0, 0, 1, 2, 0, 3, 4],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(conv.conv_matrix(w, (1, 3, 3)), expected)


@pytest.mark.parametrize(
    "c_in,c_out,kernel,stride,padding,dilation",
    [(1, 1, 3, 1, 0, 1), (2, 3, 3, 2, 1, 1), (3, 2, 2, 3, 2, 1), (2, 2, 3, 1, 2, 2), (1, 4, 1, 2, 0, 1)],
)
def test_conv_matrix_equals_conv_and_jacobian(
    c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int
) -> None:
    """V vec(x) + b equals F.conv2d, and V equals the Jacobian of F.conv2d."""
    torch.manual_seed(0)
    x = torch.randn(2, c_in, 7, 6, dtype=torch.float64)
    w = torch.randn(c_out, c_in, kernel, kernel, dtype=torch.float64)
    b = torch.randn(c_out, dtype=torch.float64)
    ref = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    assert torch.allclose(conv.conv_by_matrix(x, w, b, stride, padding, dilation), ref, atol=1e-12)
    jac = torch.func.jacrev(lambda z: F.conv2d(z, w, b, stride=stride, padding=padding, dilation=dilation))(x[0])
    matrix = conv.conv_matrix(w, (c_in, 7, 6), stride, padding, dilation)
    assert torch.allclose(matrix, jac.reshape(matrix.shape), atol=1e-12)


@pytest.mark.parametrize(
    "stride,padding,kernel,extra",
    [(1, 0, 3, 0), (2, 1, 3, 1), (2, 1, 4, 0), (3, 2, 5, 2), (2, 0, 1, 0), (3, 0, 2, 1), (2, 3, 4, 1)],
)
def test_transposed_conv_as_transpose_and_as_zero_insertion(stride: int, padding: int, kernel: int, extra: int) -> None:
    """V^T vec(x) + b and the zero-insertion recipe both equal F.conv_transpose2d."""
    torch.manual_seed(1)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    w = torch.randn(3, 2, kernel, kernel, dtype=torch.float64)
    b = torch.randn(2, dtype=torch.float64)
    ref = F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=extra)
    assert torch.allclose(conv.conv_transpose_by_matrix(x, w, b, stride, padding, extra), ref, atol=1e-12)
    assert torch.allclose(conv.conv_transpose_by_zero_insertion(x, w, b, stride, padding, extra), ref, atol=1e-12)


def test_transposed_conv_is_adjoint_not_inverse() -> None:
    """<conv x, y> = <x, convT y>, yet convT(conv(x)) is far from x for a downsampling conv."""
    torch.manual_seed(2)
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    w = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    y = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    lhs = (F.conv2d(x, w, stride=2, padding=1) * y).sum()
    rhs = (x * F.conv_transpose2d(y, w, stride=2, padding=1)).sum()
    assert torch.allclose(lhs, rhs, atol=1e-10)
    back = F.conv_transpose2d(F.conv2d(x, w, stride=2, padding=1), w, stride=2, padding=1)
    assert (back - x).norm() > 0.5 * x.norm()
    assert torch.linalg.matrix_rank(conv.conv_matrix(w, (2, 8, 8), 2, 1)) <= 48 < 128


def test_insert_zeros() -> None:
    """Stride-1 zeros land between pixels."""
    x = torch.arange(1.0, 5.0).view(1, 1, 2, 2)
    assert torch.equal(conv.insert_zeros(x, 2)[0, 0], torch.tensor([[1.0, 0, 2], [0, 0, 0], [3, 0, 4]]))


def test_non_overlapping_unit_kernel_gives_a_projection() -> None:
    """F=S=2 with a unit-norm kernel: V V^T = I, so V^T V is an orthogonal projection (not the identity)."""
    torch.manual_seed(3)
    w = torch.randn(1, 1, 2, 2, dtype=torch.float64)
    matrix = conv.conv_matrix(w / w.norm(), (1, 6, 6), stride=2)
    assert torch.allclose(matrix @ matrix.T, torch.eye(9, dtype=torch.float64), atol=1e-12)
    projection = matrix.T @ matrix
    assert torch.allclose(projection @ projection, projection, atol=1e-12)
    assert not torch.allclose(projection, torch.eye(36, dtype=torch.float64))


def test_figure_layouts_follow_the_lemmas() -> None:
    """The drawn grids (padding, inserted zeros) give the output sizes of Lemmas 1 and 2."""
    from gancnn.conv.figures import Case, input_layout

    for size, kernel, stride, padding in itertools.product(range(2, 6), range(1, 4), range(1, 3), range(0, 3)):
        if padding >= kernel:
            continue
        for transposed, extra in ((False, 0),) + tuple((True, a) for a in range(stride)):
            case = Case(size, kernel, stride, padding, transposed, extra)
            layout, step = input_layout(case)
            drawn = (layout.shape[0] - kernel) // step + 1
            try:
                expected = (
                    conv.conv_transpose_output_size(size, kernel, stride, padding, extra)
                    if transposed
                    else conv.conv_output_size(size, kernel, stride, padding)
                )
            except ValueError:
                continue
            assert drawn == expected


def _convt_jacobian(weight: torch.Tensor, stride: int) -> torch.Tensor:
    """d vec(ConvTranspose2d(x)) / d vec(x) on a 2 x 2 input: one row per output entry, one column per x_m."""
    layer = nn.ConvTranspose2d(1, 1, weight.shape[-1], stride=stride, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(weight)
    return torch.func.jacrev(lambda z: layer(z.view(1, 1, 2, 2)).flatten())(torch.zeros(4, dtype=torch.float64))


def test_stratos_stride1_transposed_example_entry() -> None:
    """Eq. (4) of the notes: output (row 2, column 3) is w4 x2 + w2 x4 (the notes print w4 x2 + w2 x3)."""
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64).view(1, 1, 2, 2)  # weight k is tap w_k
    jac = _convt_jacobian(w, 1)
    notes_v = torch.tensor(  # the notes' matrix (2)
        [
            [1, 2, 0, 3, 4, 0, 0, 0, 0],
            [0, 1, 2, 0, 3, 4, 0, 0, 0],
            [0, 0, 0, 1, 2, 0, 3, 4, 0],
            [0, 0, 0, 0, 1, 2, 0, 3, 4],
        ],
        dtype=torch.float64,
    )
    assert torch.equal(jac, notes_v.T)
    assert jac[5].tolist() == [0.0, 4.0, 0.0, 2.0]  # w4 x2 + w2 x4: no x3 term


def test_stratos_stride2_transposed_example_entries() -> None:
    """Eq. (5): the top-right output is w x2 (printed w x3); x3 lands in row 7 of 9 of V^T (printed row 6)."""
    jac = _convt_jacobian(torch.ones(1, 1, 1, 1, dtype=torch.float64), 2)
    notes_v = torch.zeros(4, 9, dtype=torch.float64)
    notes_v[[0, 1, 2, 3], [0, 2, 6, 8]] = 1.0  # the notes' stride-2 V (w at columns 1, 3, 7, 9)
    assert torch.equal(jac, notes_v.T)
    assert jac.shape[0] == 9
    assert jac[2].tolist() == [0.0, 1.0, 0.0, 0.0]  # top-right corner: x2
    assert jac[:, 2].nonzero().flatten().tolist() == [6]  # x3: row 7 (1-based), the bottom-left corner
    assert jac[5].abs().sum() == 0  # row 6 is zero


def test_stratos_conv_window_starts() -> None:
    """Window starts 1, 1+S, 1+2S, ... count the rows of nn.Conv2d; the printed 1, S, 2S, ... does not."""
    for side, kernel, stride, padding in itertools.product(range(3, 10), range(1, 4), range(1, 4), range(0, 2)):
        padded = side + 2 * padding
        starts = [i for i in range(1, padded + 1, stride) if i + kernel - 1 <= padded]
        assert len(starts) == _torch_side(nn.Conv2d(1, 1, kernel, stride, padding), side)
    printed = [i for i in (1, *range(2, 9, 2)) if i + 2 <= 8]  # the notes' 6 x 6, F=3, S=2, P=1 example
    assert len(printed) == 4 != _torch_side(nn.Conv2d(1, 1, 3, 2, 1), 6) == 3


def test_animated_png_has_one_frame_per_output_cell() -> None:
    """The book's animation is an APNG with a frame per kernel position, looping, each frame distinct."""
    import io

    from PIL import Image, ImageChops

    from gancnn.conv import figures

    case = figures.Case(2, 3, 2, 1, transposed=True)
    image = Image.open(io.BytesIO(figures.animated_png(case)))
    assert image.format == "PNG" and image.n_frames == len(figures.kernel_positions(case)) == 9
    assert image.info.get("loop") == 0
    image.seek(0)
    first = image.convert("RGB")
    image.seek(4)
    assert ImageChops.difference(first, image.convert("RGB")).getbbox() is not None


def test_tap_pattern_numbers_each_kernel_tap_and_draws() -> None:
    """Each row of the tap-numbered conv matrix holds every tap 1..F*F once (no padding: F=2, S=1 on 3x3)."""
    import matplotlib.pyplot as plt

    from gancnn.conv import figures

    pattern = figures.tap_pattern(2, (1, 3, 3), 1, 0)
    assert pattern.shape == (4, 9)
    for row in pattern:
        assert sorted(row[row > 0].astype(int).tolist()) == [1, 2, 3, 4]
    fig, ax = plt.subplots()
    figures.draw_sparsity(ax, pattern, "F=2")
    assert ax.get_title() == "F=2" and len(ax.images) == 1
    plt.close(fig)
