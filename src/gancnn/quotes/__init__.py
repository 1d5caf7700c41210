"""The numbers the book quotes from its sources, one module per source, each number in one place.

Chapters paste them into prose as `{glue:text}` with the key `q_<source>_<name>` (glued for every
chapter by `gancnn.book.startup.start_chapter`), so a quoted number is typed once, here, and marked
as the source's. Where the code already holds a source's number (a schedule, a reported accuracy),
the module reads it from there instead of retyping it.
"""

from __future__ import annotations

from gancnn.quotes import csc413, cse676, stratos2022, studiogan, ucd2021, wan2022
from gancnn.quotes._quote import Quote

SOURCES = {
    "wan": wan2022,
    "cse676": cse676,
    "csc413": csc413,
    "stratos": stratos2022,
    "ucd": ucd2021,
    "studiogan": studiogan,
}


def all_quotes() -> dict[str, Quote]:
    """Every quote under its glue key `q_<source>_<name>`."""
    out: dict[str, Quote] = {}
    for prefix, module in SOURCES.items():
        for name, quote in module.QUOTES.items():
            out[f"q_{prefix}_{name}"] = quote
    return out


def glue_all() -> list[str]:
    """Glue every quote's printed text into the running notebook (no output); return the keys."""
    from myst_nb import glue

    keys = []
    for key, quote in all_quotes().items():
        glue(key, quote.printed(), display=False)
        keys.append(key)
    return keys


__all__ = ["Quote", "SOURCES", "all_quotes", "glue_all"]
