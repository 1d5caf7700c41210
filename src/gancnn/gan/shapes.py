"""Record the output shape of every operator of a model by running it once with forward hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn


@dataclass(frozen=True)
class ShapeRecord:
    """One operator call: its qualified module name, class name and output shape."""

    order: int
    name: str
    operator: str
    shape: tuple[int, ...]


def record_shapes(model: nn.Module, run: Callable[[], Any], leaves_only: bool = False) -> list[ShapeRecord]:
    """Call `run()` with a hook on every submodule; return the tensor outputs' shapes in the order they finish."""
    records: list[ShapeRecord] = []
    handles = []

    def hook_for(name: str) -> Callable[[nn.Module, Any, Any], None]:
        """Make the hook that appends this module's output shape."""

        def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
            out = output[0] if isinstance(output, tuple) else output
            if isinstance(out, torch.Tensor):
                records.append(ShapeRecord(len(records), name, type(module).__name__, tuple(out.shape)))

        return hook

    for name, module in model.named_modules():
        if not name or (leaves_only and any(True for _ in module.children())):
            continue
        if name.endswith("parametrizations") or ".parametrizations." in name:
            continue  # the spectral-norm machinery, not an operator of the model
        handles.append(module.register_forward_hook(hook_for(name)))
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return records


def as_frame(records: Iterable[ShapeRecord]) -> pd.DataFrame:
    """Return the records as a table with the shape written as 'a x b x c'."""
    return pd.DataFrame(
        [
            {"order": r.order, "operator name": r.name, "type": r.operator, "output shape": "×".join(map(str, r.shape))}
            for r in records
        ]
    )


def _text(shape: tuple[int, ...] | str) -> str:
    """Write a shape as 'a x b x c' (a string is kept as the source wrote it)."""
    return shape if isinstance(shape, str) else "×".join(map(str, shape))


def compare(
    records: Iterable[ShapeRecord], expected: dict[str, tuple[tuple[int, ...] | str, str, str]]
) -> pd.DataFrame:
    """Join measured shapes with {operator name: (stated shape, where stated, note)}; flag each row."""
    measured = {r.name: r.shape for r in records}
    rows = []
    for name, (shape, label, note) in expected.items():
        got = measured.get(name)
        agree = got is not None and not isinstance(shape, str) and got == tuple(shape)
        rows.append(
            {
                "source": label,
                "operator name": name,
                "source shape": _text(shape),
                "measured shape": "not run" if got is None else _text(got),
                "agree": "yes" if agree else "MISMATCH",
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def unexplained(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a `compare` table that disagree and carry no note explaining why."""
    return table[(table["agree"] != "yes") & (table["note"].str.strip() == "")]
