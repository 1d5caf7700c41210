"""The bibliography's author-year labels (`_ext/authoryear_bib.py`) match the citations and are unique."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pybtex.database import parse_file


def _style_module(repo_root: Path):
    """Import the Sphinx extension module from its file."""
    spec = importlib.util.spec_from_file_location("authoryear_bib", repo_root / "_ext" / "authoryear_bib.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_read_like_author_year_citations_and_are_unique(repo_root: Path) -> None:
    style = _style_module(repo_root)
    bib = parse_file(str(repo_root / "book" / "references.bib"))
    assert style.author_year(bib.entries["seddik2020rmt"]) == "Seddik et al., 2020"
    assert style.author_year(bib.entries["miyato2018projection"]) == "Miyato and Koyama, 2018"
    labels = list(style.AuthorYearLabels().format_labels(bib.entries.values()))
    assert len(labels) == len(set(labels)) == len(bib.entries)
    assert all("{" not in label and "}" not in label for label in labels)
    assert "bibtex_default_style: authoryear" in repo_root.joinpath("_config.yml").read_text()


def test_labels_carry_no_raw_tex_and_tell_same_year_works_apart(repo_root: Path) -> None:
    """A TeX accent command would reach the page as text ('Yaz\\ic\\i'); equal author-years get a and b."""
    style = _style_module(repo_root)
    bib = parse_file(str(repo_root / "book" / "references.bib"))
    entries = list(bib.entries.values())
    labels = dict(zip((e.key for e in entries), style.AuthorYearLabels().format_labels(entries), strict=True))
    assert labels["yazici2019ema"] == "Yazıcı et al., 2019"
    assert not [label for label in labels.values() if "\\" in label]
    assert {labels["zhang2019sagan"], labels["zhang2019fixup"]} == {"Zhang et al., 2019a", "Zhang et al., 2019b"}


def test_in_text_citations_carry_the_labels_suffix(repo_root: Path) -> None:
    """The two Zhang et al. 2019 papers read 2019a / 2019b in the text as in the list; others keep the bare year."""
    from sphinxcontrib.bibtex.style.referencing import format_references
    from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

    style = _style_module(repo_root)
    bib = parse_file(str(repo_root / "book" / "references.bib"))
    formatted = {f.key: f for f in style.AuthorYearStyle().format_entries(bib.entries.values())}
    citations = style.LabelledAuthorYearReferenceStyle()

    def cite(role: str, key: str) -> str:
        info = SphinxReferenceInfo(None, "page", "references", key, None, "", "")
        return str(format_references(citations, role, [(bib.entries[key], formatted[key], info)]))

    suffix = {key: formatted[key].label[-1] for key in ("zhang2019sagan", "zhang2019fixup")}
    assert sorted(suffix.values()) == ["a", "b"]
    for key, letter in suffix.items():
        assert cite("p", key) == f"[Zhang et al., 2019{letter}]"
        assert cite("t", key) == f"Zhang et al. [2019{letter}]"
        assert cite("year", key) == f"2019{letter}"
    assert cite("p", "seddik2020rmt") == "[Seddik et al., 2020]"
    assert cite("t", "miyato2018projection") == "Miyato and Koyama [2018]"
