"""No chapter's prose states a hand-typed number: measured ones are glued, quoted ones come from gancnn.quotes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gancnn import quotes
from gancnn.book import prose

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.md"))


def flagged(text: str) -> list[str]:
    """The numbers the rule flags in a prose snippet."""
    return [f.number for f in prose.check_text(text)]


def test_rule_flags_measured_numbers() -> None:
    assert flagged("The network reaches 85.6% on the test set.") == ["85.6%"]
    assert flagged("It took 1,229 s and 45k steps.") == ["1,229", "45k"]
    assert flagged("about 2.4x faster") == ["2.4x"]


def test_rule_allows_names_locators_shapes_and_markup() -> None:
    allowed = (
        "VGG7, ResNet-50, CIFAR-10, fp32, 3x3 and 256x256 are names; so is the CSE 676 project.\n"
        "See table 2.1, tables 3.1 and 3.2, figures 4.5 and 4.12–4.14, eqs. 43-55 and section 6.3.\n"
        "A 32 × 32 image, 3 → 64 channels, turned by 180°, GroupNorm(32), in 2019, with 3 classes.\n"
        'Maths $x = 12.5$ and code `n = 300`, a role {glue:text}`acc:.1f`, a quotation "kH = 49".\n'
        "All 10,000 test images."
    )
    assert flagged(allowed) == []


def test_rule_skips_code_cells_maths_blocks_and_labels() -> None:
    text = (
        "(lbl-12)=\n```{code-cell} ipython3\nx = 123\n```\n$$\ny = 4.5\n$$\n> quoted 77.7\n\n"
        "Inline maths across\n$(1,0,1),\n(2,0,0)$ lines.\n"
    )
    assert flagged(text) == []


def test_rule_reads_prose_inside_admonitions() -> None:
    assert flagged(":::{note}\nThe run took 345 s.\n:::\n") == ["345"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_prose_has_no_typed_numbers(chapter: Path) -> None:
    findings = prose.check_chapter(chapter)
    assert not findings, "numbers typed in prose (glue them or quote them):\n" + "\n".join(map(str, findings))


def code_of(text: str) -> str:
    """The code cells of a MyST notebook, concatenated."""
    return "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)\n```", text, flags=re.S))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_pasted_key_is_glued(chapter: Path) -> None:
    text = chapter.read_text(encoding="utf-8")
    code = code_of(text)
    quoted = set(quotes.all_quotes())
    missing = []
    for key in sorted(prose.glue_keys_used(text)):
        if key in quoted:
            assert "start_chapter(" in code, f"{chapter.stem} pastes the quote {key} but never calls start_chapter"
            continue
        if not re.search(rf"""glue(?:_text)?\(\s*["']{re.escape(key)}["']""", code):
            missing.append(key)
    assert not missing, f"{chapter.stem} pastes keys that no code cell glues: {missing}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_keys_pasted_from_other_pages_are_glued_there(chapter: Path) -> None:
    text = chapter.read_text(encoding="utf-8")
    for page, key in prose.glue_keys_from_other_pages(text):
        other = chapter.parent / page
        assert other.suffix == ".md" and other.exists(), f"{chapter.stem} pastes from a missing page {page}"
        assert re.search(rf"""glue(?:_text)?\(\s*["']{re.escape(key)}["']""", code_of(other.read_text())), (
            f"{chapter.stem} pastes {key} from {page}, which never glues it"
        )
        # the text role splits `key:format` at the last colon, so a key from another page needs a format
        assert re.search(rf"::{re.escape(key)}:[^`]*`", text), f"{chapter.stem}: write {page}::{key}:s (with a format)"


def test_quote_keys_are_unique_and_printable() -> None:
    everything = quotes.all_quotes()
    assert everything, "no quotes registered"
    for key, quote in everything.items():
        assert re.fullmatch(r"q_[a-z0-9]+_[a-z0-9_]+", key), key
        assert quote.printed(), key
        assert quote.where and quote.what, key


def test_quotes_read_the_code_registries() -> None:
    from gancnn.adjoint.training import SOURCE_SCHEDULES

    assert quotes.all_quotes()["q_wan_vgg7_epochs"].value == sum(e for _, e in SOURCE_SCHEDULES[("vgg7", "cifar10")][0])
