"""Tests for gancnn.conv.receptive: the receptive-field recurrence against a one-hot gradient."""

from __future__ import annotations

import pytest

from gancnn.conv import receptive


@pytest.mark.parametrize(
    "layers",
    [
        [(3, 1, 1)] * 4,
        [(5, 1, 1)] * 3,
        [(3, 2, 1)] * 4,
        [(3, 1, 2)] * 3,
        [(3, 1, 1), (2, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)],
        [(7, 2, 1), (3, 2, 1)],
    ],
)
def test_recurrence_matches_gradient(layers: list[tuple[int, int, int]]) -> None:
    """The gradient of the centre unit reaches exactly r_L x r_L input pixels."""
    size = receptive.receptive_field(layers)[-1]
    height, width, _ = receptive.gradient_receptive_field(receptive.ones_stack(layers), size + 24)
    assert (height, width) == (size, size)


def test_known_values() -> None:
    """Closed forms: L layers of F, stride 1: 1 + L(F-1); stride 2: 2^(L+1) - 1 for F=3."""
    assert receptive.receptive_field([(3, 1, 1)] * 5)[-1] == 11
    assert receptive.receptive_field([(3, 2, 1)] * 4)[-1] == 31
    assert receptive.receptive_field([(3, 1, 1), (2, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)])[-1] == 18


def test_invalid_layer() -> None:
    """A zero kernel is rejected."""
    with pytest.raises(ValueError):
        receptive.receptive_field([(0, 1, 1)])
