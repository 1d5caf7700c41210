"""Find the numbers a chapter's prose states by hand, so that every computed number is glued instead.

The rule (checked on every chapter by `tests/test_prose_numbers.py`):

* *Prose* is the Markdown of a chapter outside its code cells, fenced blocks, maths (`$...$`,
  `$$...$$`, `{math}`), inline code, roles (`{glue:text}`, `{cite}`, `{doc}`, ...), link targets,
  labels, directive options, HTML comments and the YAML header.
* A number in prose is *allowed* when it is
  - a single digit (0-9, also as a percentage such as "1 %"), or a year (1900-2099);
  - part of a name: letters or a letter and a hyphen touch it (VGG7, fp32, ResNet-50, CIFAR-10, 3x3);
  - a locator in a source or in the book: after "table", "section", "figure", "eq.", "lemma",
    "exercise", "chapter", "appendix", "page" (also plural, and lists or ranges of them);
  - a shape: it touches "×" or "→" (32 × 32, 3 → 64);
  - inside a direct quotation ("..." or “...”) or a block quote (a line starting with ">");
  - one of the declared constants of `CONSTANTS` (facts of a dataset or a unit, never a measurement).
* Anything else is *flagged*: a measured number belongs in a `glue` (or generated Markdown), a
  source's number in `gancnn.book.quotes`, pasted with `{glue:text}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Definitional facts that prose may state as typed text: what they are, never what was measured.
CONSTANTS: dict[str, str] = {
    "10,000": "images in the CIFAR-10 and MNIST test sets",
    "50,000": "images in the CIFAR-10 training set",
    "60,000": "images in the MNIST training set",
    "255": "the largest 8-bit pixel value",
    "180": "degrees in a half turn (turning a kernel)",
}

# Directives whose body is not prose (code, maths, pasted outputs, tables of data).
NO_PROSE_DIRECTIVES = r"\{(code-cell|math|code|glue|list-table|csv-table)"

# Names that contain a number as a word (a course code).
NAMES = ("CSE 676",)

LOCATOR_WORDS = (
    r"tables?|sections?|§|figures?|figs?\.|eqs?\.|equations?|lemmas?|theorems?|exercises?|chapters?|"
    r"appendix|appendices|pages?|algorithms?|items?"
)

_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?(?:\s?%|k\b|x\b)?")
_LOCATOR_RUN = re.compile(
    rf"\b(?:{LOCATOR_WORDS})\s+(?:[A-Z]?\d+(?:\.\d+)*(?:\s*(?:,|–|-|—|and|to|or)\s*)?)+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """A number typed in prose: the chapter, its line, the number and the text around it."""

    chapter: str
    line: int
    number: str
    context: str

    def __str__(self) -> str:
        """One line: where, what, and the words around it."""
        return f"{self.chapter}:{self.line}: {self.number!r} in “{self.context}”"


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every prose line of a MyST notebook; code, fences and headers blanked out."""
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    i = 0
    if lines and lines[0].strip() == "---":  # YAML header
        i = 1
        while i < len(lines) and lines[i].strip() != "---":
            i += 1
        i += 1
    fence: str | None = None
    keep_inside = False
    in_math = False
    in_comment = False
    for n in range(i, len(lines)):
        line = lines[n]
        s = line.strip()
        if in_comment:
            in_comment = "-->" not in s
            continue
        if s.startswith("<!--"):
            in_comment = "-->" not in s
            continue
        if fence is not None:
            if s == fence:
                fence = None
            elif keep_inside and not re.match(r"^:\w[\w-]*:", s):
                out.append((n + 1, line))
            continue
        opening = re.match(r"^(`{3,}|:{3,})\s*(.*)$", s)
        if opening:
            marker, info = opening.groups()
            fence = marker
            # admonitions, dropdowns, figures and the like hold prose; code, maths and tables do not
            keep_inside = info.startswith("{") and not re.match(NO_PROSE_DIRECTIVES, info)
            continue
        if s.startswith("$$"):
            in_math = not (s.endswith("$$") and len(s) > 2) if not in_math else False
            continue
        if in_math:
            if s.endswith("$$"):
                in_math = False
            continue
        if s.startswith("+++") or re.match(r"^\([\w:.-]+\)=$", s):
            continue
        out.append((n + 1, line))
    return out


def _blank(match: re.Match[str]) -> str:
    """Replace a match by spaces of the same length (keeps positions stable)."""
    return " " * len(match.group(0))


def strip_markup(line: str) -> str:
    """Blank out block quotes, maths, inline code, roles, link targets, quotations and names of prose text."""
    line = re.sub(r"^\s*>.*$", _blank, line, flags=re.M)
    line = re.sub(r"\$[^$]*\$", _blank, line)
    line = re.sub(r"\{[\w:.-]+\}`[^`]*`", _blank, line)
    line = re.sub(r"`[^`]*`", _blank, line)
    line = re.sub(r"\]\([^)]*\)", _blank, line)
    line = re.sub(r"<[^>]+>", _blank, line)
    line = re.sub(r"\"[^\"]*\"|“[^”]*”", _blank, line)
    for name in NAMES:
        line = line.replace(name, " " * len(name))
    return line


def _is_allowed(line: str, start: int, end: int, locator_spans: list[tuple[int, int]]) -> bool:
    """Whether the number at line[start:end] is one of the allowed kinds of the module docstring."""
    token = line[start:end].strip()
    digits = re.sub(r"[^\d.,]", "", token).strip(",")
    before, after = line[:start], line[end:]
    if re.fullmatch(r"\d", digits):
        return True
    if re.fullmatch(r"(19|20)\d\d", digits) and "%" not in token:
        return True
    if digits in CONSTANTS and not re.match(r"\.\d", after):
        return True
    if re.search(r"[A-Za-z_][-]?$", before) or re.match(r"[A-Za-z_]", after) and not re.match(r"k\b|x\b", after):
        return True  # part of a name such as VGG7, ResNet-50, 3x3 or fp32
    if re.search(r"[A-Za-z]\($", before):  # a call such as GroupNorm(32)
        return True
    if re.match(r"x\d", after):  # 3x3, 256x256
        return True
    if re.search(r"[×→]\s*$", before) or re.match(r"\s*[×→]", after) or re.match(r"°", after):
        return True
    return any(a <= start < b for a, b in locator_spans)


def numbers_in_text(text: str) -> list[tuple[int, str]]:
    """(offset, number) of the flagged numbers of a prose paragraph (see the module docstring)."""
    clean = strip_markup(text)
    locators = [m.span() for m in _LOCATOR_RUN.finditer(clean)]
    found = []
    for m in _NUMBER.finditer(clean):
        start = m.start()
        token = m.group(0).rstrip(",")
        if not re.search(r"\d", token):
            continue
        if not _is_allowed(clean, start, start + len(token), locators):
            found.append((start, token.strip()))
    return found


def paragraphs(lines: list[tuple[int, str]]) -> list[tuple[list[int], str]]:
    """Group prose lines into paragraphs: (line numbers, text joined by newlines)."""
    groups: list[tuple[list[int], str]] = []
    numbers: list[int] = []
    texts: list[str] = []
    last = -2
    for n, line in lines:
        if not line.strip() or n != last + 1:
            if texts:
                groups.append((numbers, "\n".join(texts)))
            numbers, texts = [], []
        if line.strip():
            numbers.append(n)
            texts.append(line)
        last = n
    if texts:
        groups.append((numbers, "\n".join(texts)))
    return groups


def check_text(text: str, chapter: str = "<text>") -> list[Finding]:
    """Every number typed in the prose of a MyST notebook's text."""
    findings = []
    for numbers, para in paragraphs(prose_lines(text)):
        for offset, number in numbers_in_text(para):
            index = para.count("\n", 0, offset)
            line = para.split("\n")[index]
            findings.append(Finding(chapter, numbers[index], number, line.strip()[:120]))
    return findings


def check_chapter(path: str | Path) -> list[Finding]:
    """Every number typed in the prose of one chapter file."""
    path = Path(path)
    return check_text(path.read_text(encoding="utf-8"), path.stem)


def glue_keys_used(text: str) -> set[str]:
    """The glue keys a page pastes from itself (`{glue:...}` roles and directives without `path::`)."""
    keys = set()
    for m in re.finditer(r"\{glue(?::\w+)?\}`([^`]+)`", text):
        key = m.group(1)
        if "::" in key:
            continue  # another page's key: see glue_keys_from_other_pages
        keys.add(key.split(":", 1)[0] if ":" in key else key)
    for m in re.finditer(r"```\{glue(?::\w+)?\}\s+(\S+)", text):
        keys.add(m.group(1))
    return keys


def glue_keys_from_other_pages(text: str) -> set[tuple[str, str]]:
    """(page file, key) of every `{glue:...}` role that pastes from another page (`page.md::key[:format]`)."""
    found = set()
    for m in re.finditer(r"\{glue(?::\w+)?\}`([^`]+)::([^`:]+)(?::[^`]*)?`", text):
        found.add((m.group(1), m.group(2)))
    return found
