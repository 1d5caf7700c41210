"""One quoted number of a source: its value, how the book prints it, and where the source states it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quote:
    """A number as a source states it (never computed here), with its place in the source."""

    source: str  # the BibTeX key of the source (book/references.bib)
    where: str  # section, table or figure of the source
    what: str  # what the number is
    value: float | int
    text: str = ""  # how the prose prints it; empty: the value with thousands separators

    def printed(self) -> str:
        """The text the prose shows for this quote."""
        if self.text:
            return self.text
        return f"{self.value:,}" if isinstance(self.value, int) else f"{self.value:g}"
