"""Bibliography labels that match the book's author-year citations ("Seddik et al., 2020"), not pybtex's alpha keys.

A pybtex formatting style `authoryear` (the unsrt layout with author-year labels), registered when Sphinx loads
this extension; `_config.yml` selects it with `bibtex_default_style: authoryear`. In-text citations use the
reference style `author_year_labelled`: sphinxcontrib-bibtex's author-year citations whose year carries the
label's a/b suffix, so two works of the same authors and year are told apart in the text as in the list.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.template import Node, join, node
from sphinxcontrib.bibtex import plugin as bibtex_plugin
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
    BasicAuthorYearParentheticalReferenceStyle,
    BasicAuthorYearTextualReferenceStyle,
)
from sphinxcontrib.bibtex.style.referencing.extra_year import ExtraYearReferenceStyle
from sphinxcontrib.bibtex.style.template import join2, post_text, pre_text, reference, year


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


def year_suffix(entry: Any, label: str) -> str:
    """The 'a', 'b', ... that AuthorYearLabels appended to this entry's label ('' when none)."""
    rest = label[len(author_year(entry)) :] if label.startswith(author_year(entry)) else ""
    return rest if len(rest) == 1 and rest.isalpha() else ""


@node
def labelled_year(children: Any, data: dict[str, Any]) -> Any:
    """The entry's year followed by its label's suffix ('2019a'), for in-text citations."""
    assert not children
    return Text(year.format_data(data), year_suffix(data["entry"], data["formatted_entry"].label))


class LabelledParenthetical(BasicAuthorYearParentheticalReferenceStyle):
    """'(Zhang et al., 2019a)': sphinxcontrib-bibtex's parenthetical template with the labelled year."""

    def inner(self, role_name: str) -> Node:
        """Pre-text, author and labelled year, post-text."""
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text,
            reference[
                join(sep=self.author_year_sep)[
                    self.person.author_or_editor_or_title(full="s" in role_name), labelled_year
                ]
            ],
            post_text,
        ]


class LabelledTextual(BasicAuthorYearTextualReferenceStyle):
    """'Zhang et al. (2019a)': sphinxcontrib-bibtex's textual template with the labelled year."""

    def inner(self, role_name: str) -> Node:
        """Author, then the bracketed labelled year with pre- and post-text."""
        return join(sep=self.text_reference_sep)[
            self.person.author_or_editor_or_title(full="s" in role_name),
            join[
                self.bracket.left,
                join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[pre_text, reference[labelled_year], post_text],
                self.bracket.right,
            ],
        ]


class LabelledYear(ExtraYearReferenceStyle):
    """{cite:year}: the labelled year alone."""

    def inner(self, role_name: str) -> Node:
        """The labelled year as the reference."""
        return reference[labelled_year]


_LABELLED = {
    BasicAuthorYearParentheticalReferenceStyle: LabelledParenthetical,
    BasicAuthorYearTextualReferenceStyle: LabelledTextual,
    ExtraYearReferenceStyle: LabelledYear,
}


def _labelled(style: Any) -> Any:
    """The labelled-year twin of an author_year part with the same settings (other parts unchanged)."""
    twin = _LABELLED.get(type(style))
    return twin(**{f.name: getattr(style, f.name) for f in dataclasses.fields(style)}) if twin else style


class LabelledAuthorYearReferenceStyle(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's author_year reference style, each year carrying its label's a/b suffix."""

    def __post_init__(self) -> None:
        """Build the author_year group, then swap in the labelled-year parts (same settings) and their roles."""
        super().__post_init__()
        self.styles = [_labelled(style) for style in self.styles]
        self.role_style.update((role, style) for style in self.styles for role in style.role_names())


def setup(app: Any) -> dict[str, Any]:
    """Register the bibliography style with pybtex and the citation style with sphinxcontrib-bibtex."""
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    bibtex_plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing", "author_year_labelled", LabelledAuthorYearReferenceStyle
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
