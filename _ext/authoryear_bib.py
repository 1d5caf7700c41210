"""Bibliography labels that match the book's author-year citations ("Seddik et al., 2020"), not pybtex's alpha keys.

A pybtex formatting style `authoryear` (the unsrt layout with author-year labels), registered when Sphinx loads
this extension; `_config.yml` selects it with `bibtex_default_style: authoryear`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person: Any) -> str:
    """A person's last names (or an organisation's braced name) without TeX braces."""
    return " ".join(person.prelast_names + person.last_names).replace("{", "").replace("}", "")


def author_year(entry: Any) -> str:
    """'A, year', 'A and B, year' or 'A et al., year', as sphinxcontrib-bibtex's author_year citations read."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if not names:
        who = entry.fields.get("organization", entry.fields.get("title", entry.key))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}".replace("{", "").replace("}", "")


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels; equal ones get a, b, ... after the year."""

    def format_labels(self, sorted_entries: Any) -> Any:
        """Yield one label per entry, in order."""
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        repeated = {label for label, n in Counter(labels).items() if n > 1}
        seen: Counter[str] = Counter()
        for label in labels:
            if label in repeated:
                yield f"{label}{chr(ord('a') + seen[label])}"
                seen[label] += 1
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    """pybtex's unsrt entries with author-year labels."""

    default_label_style = AuthorYearLabels


def setup(app: Any) -> dict[str, Any]:
    """Register the style with pybtex (Sphinx extension entry point)."""
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
