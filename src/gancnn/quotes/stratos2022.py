"""Numbers quoted from Karl Stratos's notes on vision architectures (stratos2022vision)."""

from __future__ import annotations

from gancnn.quotes._quote import Quote

SOURCE = "stratos2022vision"

QUOTES: dict[str, Quote] = {}
