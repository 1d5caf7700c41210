"""The claims ledger: each chapter records the sources' claims it tests; the results page gathers them.

A chapter calls `record(chapter, claims)` once its numbers exist; the claims land in
`_build/ledger/<chapter>.json` (written atomically) and the {doc}`results` page, which Sphinx reads
after the chapters, reads every file back. "Ours" is always a string the chapter formatted from its
own computation; the source's figure comes from `gancnn.quotes` or from the code registry that holds it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from gancnn.book.paths import project_root

VERDICTS = ("reproduced", "reproduced within tolerance", "not reproduced", "corrected", "not testable here")


@dataclass(frozen=True)
class Claim:
    """One claim of a source as a chapter tests it."""

    source: str  # BibTeX key of the source
    section: str  # where the source makes the claim
    claim: str  # the claim, in the book's words
    source_figure: str  # the source's number or statement ("" when it gives none)
    ours: str  # what this build computed
    scale: str  # the scale this build ran at (profile, sample sizes, model)
    verdict: str  # one of VERDICTS
    reason: str  # why this verdict (tolerance, what differs, what is missing)
    anchor: str = ""  # label of the chapter section that tests it

    def __post_init__(self) -> None:
        """Refuse an unknown verdict or an empty claim at once."""
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not self.claim.strip() or not self.source.strip():
            raise ValueError("a claim needs a source and a text")


def ledger_dir() -> Path:
    """Where the chapters' ledgers of this build live."""
    return Path(os.environ.get("GANCNN_LEDGER", project_root() / "_build" / "ledger"))


def within(ours: float, theirs: float, tolerance: float) -> str:
    """'reproduced' at or above the source's figure, 'reproduced within tolerance' within it, else 'not reproduced'."""
    if ours >= theirs:
        return "reproduced"
    return "reproduced within tolerance" if ours >= theirs - tolerance else "not reproduced"


class ClaimsTable(pd.DataFrame):
    """A DataFrame of a chapter's claims whose HTML (the executed page) is the ledger's own table: every cell
    whole, one card per claim on a narrow screen, as on the results page."""

    def _repr_html_(self) -> str | None:
        """The ledger's HTML table of the recorded claims (the DataFrame's own HTML when they are not attached)."""
        claims = self.attrs.get("claims")
        if claims is None:
            with pd.option_context("display.max_colwidth", None, "display.max_rows", None):
                return super()._repr_html_()
        return html_table([(self.attrs["chapter"], c) for c in claims])


def record(chapter: str, claims: list[Claim]) -> ClaimsTable:
    """Store a chapter's claims for the results page and return them as a table for the page."""
    path = ledger_dir() / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"chapter": chapter, "claims": [asdict(c) for c in claims]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{chapter}.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1)
    os.replace(tmp, path)
    table = ClaimsTable([{k: v for k, v in asdict(c).items() if k != "anchor"} for c in claims])
    table.attrs.update(chapter=chapter, claims=list(claims))
    return table


def load_all(directory: Path | None = None) -> list[tuple[str, Claim]]:
    """(chapter, claim) for every claim recorded in this build, in chapter order."""
    directory = directory or ledger_dir()
    names = {f.name for f in fields(Claim)}
    out = []
    for path in sorted(directory.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        for row in payload["claims"]:
            out.append((payload["chapter"], Claim(**{k: v for k, v in row.items() if k in names})))
    return out


def counts(entries: list[tuple[str, Claim]]) -> dict[str, int]:
    """Number of claims per verdict (every verdict listed, zeros included)."""
    found = Counter(c.verdict for _, c in entries)
    return {v: found.get(v, 0) for v in VERDICTS}


def table(entries: list[tuple[str, Claim]]) -> Any:
    """The ledger as a DataFrame: one row per claim, with a link target per chapter section."""
    rows = []
    for chapter, c in entries:
        rows.append(
            {
                "chapter": chapter,
                "source": c.source,
                "section": c.section,
                "claim": c.claim,
                "source's figure": c.source_figure,
                "ours": c.ours,
                "scale": c.scale,
                "verdict": c.verdict,
                "reason": c.reason,
                "anchor": c.anchor,
            }
        )
    return pd.DataFrame(rows)


def html_table(entries: list[tuple[str, Claim]]) -> str:
    """The ledger as a sortable HTML table; each claim links to the chapter section that tests it.

    Every cell carries its column name (`data-label`), so that a narrow screen can show each claim as a card.
    """
    import html

    head = ("chapter", "claim", "verdict", "source's figure", "ours", "source, section", "scale", "reason")
    rows = []
    for chapter, c in entries:
        target = f"{chapter}.html" + (f"#{c.anchor}" if c.anchor else "")
        cells = [
            f'<a href="{html.escape(target)}">{html.escape(chapter)}</a>',
            html.escape(c.claim),
            f'<span class="verdict verdict-{c.verdict.replace(" ", "-")}">{html.escape(c.verdict)}</span>',
            html.escape(c.source_figure),
            html.escape(c.ours),
            f"{html.escape(c.source)}, {html.escape(c.section)}",
            html.escape(c.scale),
            html.escape(c.reason),
        ]
        rows.append(
            "<tr>"
            + "".join(f'<td data-label="{html.escape(h)}">{cell}</td>' for h, cell in zip(head, cells, strict=True))
            + "</tr>"
        )
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (
        '<div class="ledger-wrap"><table class="sortable ledger docutils">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def summary_html(entries: list[tuple[str, Claim]]) -> str:
    """Counts of claims per source and verdict as a compact HTML table (a row for all sources)."""
    import html

    sources = sorted({c.source for _, c in entries})
    head = "".join(f"<th>{html.escape(v)}</th>" for v in ("source", *VERDICTS, "all"))
    rows = []
    for name, picked in [*((s, [c for _, c in entries if c.source == s]) for s in sources), ("all sources", None)]:
        claims = [c for _, c in entries] if picked is None else picked
        counted = counts([("", c) for c in claims])
        cells = [html.escape(name), *(str(counted[v]) for v in VERDICTS), str(len(claims))]
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    return (
        '<div class="ledger-wrap"><table class="ledger ledger-summary docutils">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
