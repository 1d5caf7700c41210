"""The student edition: each chapter with exercises as a notebook without its solutions, the solutions apart.

A chapter's exercises are sphinx-exercise blocks: `{exercise}` with a `:label:` (or the gated
`{exercise-start}` ... `{exercise-end}`), answered by `{solution} <label>` or by the gated
`{solution-start} <label>` ... `{solution-end}` whose span may hold code cells. The chapter is read with
jupytext and flattened into a stream of markdown lines and code cells, so that a gated span can cross
cells; the student notebook is that stream without the solutions and with a stub code cell after each
exercise, regrouped into cells. jupytext and nbformat (the `book` extra) are imported when first needed.
"""

from __future__ import annotations

import copy
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXERCISE = ("exercise", "exercise-start")
SOLUTION = ("solution", "solution-start")
ENDS = ("exercise-end", "solution-end")

_OPEN = re.compile(r"^\s*(?P<fence>:{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*?)\s*$")
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
_CODE_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")

# One item of the flattened chapter: (index of its cell, a markdown line, or None for a whole code cell).
Item = tuple[int, str | None]


class StudentError(ValueError):
    """The exercises and solutions of a chapter do not fit together (unknown label, unclosed block, ...)."""


@dataclass(frozen=True)
class Exercise:
    """An exercise: its label, title (may be empty), text, and the code of a gated exercise."""

    label: str
    title: str
    text: str
    code: tuple[str, ...] = ()


@dataclass(frozen=True)
class Solution:
    """A solution: the label of its exercise, its text, its code cells, and whether it was gated."""

    target: str
    text: str
    code: tuple[str, ...] = ()
    gated: bool = False


@dataclass(frozen=True)
class Block:
    """A colon-fenced directive in the stream: name, argument, options, body lines, first and last item."""

    name: str
    arg: str
    options: dict[str, str]
    body: tuple[str, ...]
    start: int
    end: int


@dataclass
class Chapter:
    """A parsed chapter: its name and title, exercises and solutions, and the student notebook."""

    name: str
    title: str
    exercises: list[Exercise]
    solutions: list[Solution]
    student: Any  # nbformat.NotebookNode

    def solution_for(self, label: str) -> Solution | None:
        """The solution of the exercise with this label, or None."""
        return next((s for s in self.solutions if s.target == label), None)

    def stubs(self) -> int:
        """How many stub cells the student notebook holds."""
        return sum(1 for c in self.student.cells if c.cell_type == "code" and is_stub(c.source))


def stub_source(label: str) -> str:
    """The code cell a student fills in for one exercise."""
    return f'# Exercise {label}: your answer here\nraise NotImplementedError("Exercise {label}: not done yet")'


def is_stub(source: str) -> bool:
    """Whether a code cell is an exercise stub."""
    return source.startswith("# Exercise ") and "raise NotImplementedError(" in source


def flatten(cells: list[Any]) -> list[Item]:
    """The chapter as one stream: every markdown line, and each code cell as one item."""
    items: list[Item] = []
    for k, cell in enumerate(cells):
        if cell.cell_type == "markdown":
            items += [(k, line) for line in cell.source.split("\n")]
        else:
            items.append((k, None))
    return items


def read_block(items: list[Item], start: int, where: str) -> Block:
    """The directive opening at items[start]: options, body, and the item of its closing fence."""
    cell, line = items[start]
    m = _OPEN.match(line or "")
    if m is None:
        raise StudentError(f"{where}: no directive at {line!r}")
    width, options, body = len(m["fence"]), {}, []
    i = start + 1
    while i < len(items) and items[i][0] == cell and (opt := _OPTION.match(items[i][1] or "")):
        options[opt["key"]] = opt["value"]
        i += 1
    while i < len(items) and items[i][0] == cell:
        text = items[i][1] or ""
        if re.fullmatch(r"\s*:{3,}\s*", text) and text.count(":") >= width:
            return Block(m["name"], m["arg"], options, tuple(body), start, i)
        body.append(text)
        i += 1
    raise StudentError(f"{where}: the {{{m['name']}}} block {m['arg']!r} is not closed in its cell")


def markdown_text(lines: list[str]) -> str:
    """Dedented lines joined, with runs of blank lines collapsed to one and the ends stripped."""
    text = textwrap.dedent("\n".join(lines)).strip()
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", text)


def closes_code_fence(line: str, fence: str) -> bool:
    """Whether a markdown line closes a fenced code block opened with `fence` (backticks or tildes)."""
    return re.fullmatch(rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", line) is not None


def find_gate_end(items: list[Item], after: int, name: str, where: str) -> int:
    """The item where the `-end` directive closing a gated `name` (exercise-start or solution-start) opens."""
    end_name = name.replace("-start", "-end")
    for i in range(after, len(items)):
        m = _OPEN.match(items[i][1] or "")
        if m and m["name"] == end_name:
            return i
        if m and m["name"] in ("exercise-start", "solution-start"):
            break
    raise StudentError(f"{where}: {{{name}}} without its {{{end_name}}}")


def gated_content(items: list[Item], cells: list[Any], first: int, last: int) -> tuple[list[str], list[str]]:
    """The markdown lines and code cell sources of items[first:last], in order."""
    lines: list[str] = []
    code: list[str] = []
    for i in range(first, last):
        cell, line = items[i]
        if line is None:
            code.append(cells[cell].source)
            lines.append("")
        else:
            lines.append(line)
    return lines, code


def scan(cells: list[Any], where: str) -> tuple[list[Exercise], list[Solution], set[int], dict[int, str]]:
    """Exercises, solutions, the items to drop (solutions) and the items after which a stub goes."""
    items = flatten(cells)
    exercises: list[Exercise] = []
    solutions: list[Solution] = []
    drop: set[int] = set()
    stubs: dict[int, str] = {}
    fence: str | None = None
    i = 0
    while i < len(items):
        cell, line = items[i]
        if line is None or fence is not None:
            if line is not None and fence is not None and closes_code_fence(line, fence):
                fence = None
            i += 1
            continue
        if code_fence := _CODE_FENCE.match(line):
            fence = code_fence["fence"]
            i += 1
            continue
        m = _OPEN.match(line)
        if m is None or m["name"] not in (*EXERCISE, *SOLUTION, *ENDS):
            i += 1
            continue
        if m["name"] in ENDS:
            raise StudentError(f"{where}: {{{m['name']}}} without its start")
        block = read_block(items, i, where)
        last, code_lines, code = block.end, [], []
        if block.name.endswith("-start"):
            gate = find_gate_end(items, block.end + 1, block.name, where)
            code_lines, code = gated_content(items, cells, block.end + 1, gate)
            last = read_block(items, gate, where).end
        text = markdown_text([*block.body, *code_lines])
        if block.name in EXERCISE:
            label = block.options.get("label")
            if not label:
                raise StudentError(f"{where}: exercise {block.arg!r} has no :label:")
            exercises.append(Exercise(label, block.arg, text, tuple(code)))
            stubs[last] = label
        else:
            solutions.append(Solution(block.arg, text, tuple(code), gated=block.name == "solution-start"))
            drop.update(range(block.start, last + 1))
        i = last + 1
    return exercises, solutions, drop, stubs


def check(exercises: list[Exercise], solutions: list[Solution], where: str) -> None:
    """Fail on duplicate exercise labels, solutions of unknown exercises and exercises with two solutions."""
    labels = [e.label for e in exercises]
    if len(set(labels)) != len(labels):
        raise StudentError(f"{where}: duplicate exercise labels {sorted({x for x in labels if labels.count(x) > 1})}")
    seen: set[str] = set()
    for s in solutions:
        if s.target not in labels:
            raise StudentError(f"{where}: a solution points at an unknown exercise label {s.target!r}")
        if s.target in seen:
            raise StudentError(f"{where}: exercise {s.target!r} has more than one solution")
        seen.add(s.target)


def student_notebook(nb: Any, drop: set[int], stubs: dict[int, str]) -> Any:
    """A copy of the notebook without the dropped items, with a stub cell after each exercise."""
    import nbformat

    items = flatten(nb.cells)
    out = copy.deepcopy(nb)
    out.cells = []
    pending: list[str] = []
    pending_cell = -1

    def flush() -> None:
        """Close the markdown cell being collected, unless it is blank."""
        text = markdown_text(pending)
        if text:
            md = nbformat.v4.new_markdown_cell(text)
            md.metadata = copy.deepcopy(nb.cells[pending_cell].metadata)
            out.cells.append(md)
        pending.clear()

    for i, (cell, line) in enumerate(items):
        if i not in drop:
            if line is None:
                flush()
                out.cells.append(copy.deepcopy(nb.cells[cell]))
            else:
                if cell != pending_cell:
                    flush()
                    pending_cell = cell
                pending.append(line)
        if i in stubs:
            flush()
            out.cells.append(nbformat.v4.new_code_cell(stub_source(stubs[i])))
    flush()
    return out


def chapter_title(nb: Any, name: str) -> str:
    """The first level-one heading of the chapter, else its name."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.split("\n"):
                if line.startswith("# "):
                    return line[2:].strip()
    return name


def parse_notebook(nb: Any, name: str) -> Chapter:
    """Parse a chapter notebook: its exercises, solutions and student edition."""
    exercises, solutions, drop, stubs = scan(nb.cells, name)
    check(exercises, solutions, name)
    return Chapter(name, chapter_title(nb, name), exercises, solutions, student_notebook(nb, drop, stubs))


def parse_text(text: str, name: str) -> Chapter:
    """Parse a chapter given as MyST notebook text."""
    import jupytext

    return parse_notebook(jupytext.reads(text, fmt="md:myst"), name)


def parse_chapter(path: Path) -> Chapter:
    """Parse book/<chapter>.md."""
    import jupytext

    return parse_notebook(jupytext.read(path), path.stem)


def solutions_markdown(chapter: Chapter) -> str:
    """The solutions of one chapter as a Markdown page: label, exercise, solution text and code."""
    out = [
        f"# Solutions: {chapter.title}",
        "",
        f"The exercises of `book/{chapter.name}.md` with their solutions; the student edition "
        f"`{chapter.name}.ipynb` leaves them out.",
    ]
    for ex in chapter.exercises:
        out += ["", f"## `{ex.label}`" + (f": {ex.title}" if ex.title else ""), "", "**Exercise.**", "", ex.text]
        out += [block for code in ex.code for block in ("", "```python", code, "```")]
        sol = chapter.solution_for(ex.label)
        out += ["", "**Solution.**", ""]
        if sol is None:
            out.append("*The book gives no solution.*")
            continue
        out.append(sol.text)
        out += [block for code in sol.code for block in ("", "```python", code, "```")]
    return "\n".join(out) + "\n"


def repository(config: Path) -> tuple[str, str]:
    """(url, branch) under `repository:` in _config.yml: the one place a fork names its repository."""
    import yaml

    repo = (yaml.safe_load(config.read_text()) or {}).get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch", "main")
    if not url:
        raise StudentError(f"{config}: no repository.url (the repository that launched notebooks install from)")
    return str(url), str(branch)


def setup_cell_source(url: str, branch: str) -> str:
    """The first code cell of a launched notebook: fetch and install the book when `gancnn` is missing."""
    return "\n".join(
        [
            "# Set-up for Colab, Binder or a fresh kernel: when the book's package is missing, clone the book",
            f"# ({url}, branch {branch}: named once, in _config.yml), install it and run from its book/ folder.",
            "# Data are downloaded through gancnn.data (GANCNN_DOWNLOAD=1 is the default).",
            "import importlib.util",
            "import os",
            "import subprocess",
            "import sys",
            "",
            'if importlib.util.find_spec("gancnn") is None:',
            '    root = os.path.abspath("gans-and-cnns")',
            "    if not os.path.isdir(root):",
            f'        subprocess.check_call(["git", "clone", "--depth", "1", "--branch", "{branch}", "{url}", root])',
            '    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "-e", root])',
            '    sys.path.insert(0, os.path.join(root, "src"))  # this kernel started before the install',
            '    os.environ["GANCNN_ROOT"] = root',
            '    os.chdir(os.path.join(root, "book"))',
        ]
    )


def launchable(nb: Any, chapter: str, url: str, branch: str, record: dict[str, Any] | None) -> Any:
    """A copy of a chapter notebook that runs where it is launched: run-time note after the title, set-up cell first."""
    import nbformat

    from gancnn.book import timings

    out = copy.deepcopy(nb)
    first_code = next((i for i, c in enumerate(out.cells) if c.cell_type == "code"), len(out.cells))
    out.cells.insert(first_code, nbformat.v4.new_code_cell(setup_cell_source(url, branch)))
    for cell in out.cells:
        if cell.cell_type == "markdown" and any(line.startswith("# ") for line in cell.source.split("\n")):
            note = timings.runtime_note(chapter, record)
            cell.source = "\n".join(timings.insert_after_title(cell.source.split("\n"), note))
            break
    return out


def write_chapter(
    chapter: Chapter, out_dir: Path, url: str = "", branch: str = "main", record: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write <out>/<chapter>.ipynb (launchable when `url` is given) and <out>/solutions/<chapter>.md."""
    import nbformat

    notebook = out_dir / f"{chapter.name}.ipynb"
    solutions = out_dir / "solutions" / f"{chapter.name}.md"
    solutions.parent.mkdir(parents=True, exist_ok=True)
    student = launchable(chapter.student, chapter.name, url, branch, record) if url else chapter.student
    nbformat.write(student, str(notebook))
    solutions.write_text(solutions_markdown(chapter))
    return notebook, solutions


def write_notebook_edition(
    book_dir: Path, out_dir: Path, url: str, branch: str, record: dict[str, Any] | None
) -> list[Path]:
    """Every chapter with code as a launchable notebook (solutions kept): <out>/<chapter>.ipynb, for Colab."""
    import jupytext
    import nbformat

    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(book_dir.glob("*.md")):
        nb = jupytext.read(path)
        if not any(c.cell_type == "code" for c in nb.cells):
            continue
        target = out_dir / f"{path.stem}.ipynb"
        nbformat.write(launchable(nb, path.stem, url, branch, record), str(target))
        written.append(target)
    return written


def chapters_with_exercises(book_dir: Path) -> list[Chapter]:
    """Every chapter of book/ that has at least one exercise, parsed, in name order."""
    chapters = []
    for path in sorted(book_dir.glob("*.md")):
        if "{exercise" in path.read_text():
            chapter = parse_chapter(path)
            if chapter.exercises:
                chapters.append(chapter)
    return chapters


def summary(chapter: Chapter, notebook: Path) -> str:
    """One line about a written chapter: exercises, solutions and stubs."""
    return (
        f"{chapter.name}: {len(chapter.exercises)} exercises, {len(chapter.solutions)} solutions, "
        f"{chapter.stubs()} stubs written to {notebook}"
    )
