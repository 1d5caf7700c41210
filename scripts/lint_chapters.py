"""Lint (and with --fix, fix and format) the code cells of the MyST chapters with ruff.

Each chapter's code cells are written, in order, to one temporary Python file (markdown is dropped,
so prose never trips the line-length rule); ruff's findings are mapped back to `book/<chapter>.md`.
With --fix, `ruff check --fix` and `ruff format` run on that file and each cell is written back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_IGNORES = "E402,F704,B018,D1,ANN"  # imports after the parameters cell, top-level await, bare expressions shown;
# a chapter's few helper functions are narrative code, documented by the prose around them (the library's are linted)
MARKER = "# %% cell "


def code_cells(md: Path) -> list[tuple[int, list[str]]]:
    """(first line number in the .md, source lines) of every `{code-cell}` block, in order."""
    cells, lines, i = [], md.read_text().splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("```{code-cell}"):
            i += 1
            if i < len(lines) and lines[i].strip() == "---":  # YAML options block
                i += 1
                while i < len(lines) and lines[i].strip() != "---":
                    i += 1
                i += 1
            while i < len(lines) and lines[i].startswith(":") and not lines[i].startswith("::"):
                i += 1  # :tags: lines
            start, body = i, []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            cells.append((start + 1, body))
        i += 1
    return cells


def fix(md: Path, ruff: str) -> None:
    """Apply ruff's safe fixes and its formatter to every code cell of a chapter, in place."""
    cells = code_cells(md)
    text = []
    for k, (_, body) in enumerate(cells):
        text += [f"{MARKER}{k}", *body]
    with tempfile.NamedTemporaryFile("w", suffix=".py", dir=ROOT, prefix=f".fix-{md.stem}-", delete=False) as f:
        f.write("\n".join(text) + "\n")
        tmp = Path(f.name)
    try:
        subprocess.run([ruff, "check", "--fix", "-q", "--extend-ignore", CHAPTER_IGNORES, str(tmp)], cwd=ROOT)
        subprocess.run([ruff, "format", "-q", str(tmp)], cwd=ROOT, check=True)
        fixed = tmp.read_text().splitlines()
    finally:
        tmp.unlink()
    bodies: list[list[str]] = []
    for line in fixed:
        if line.startswith(MARKER):
            bodies.append([])
        elif bodies:
            bodies[-1].append(line)
    if len(bodies) != len(cells):
        raise RuntimeError(f"{md}: {len(cells)} cells in, {len(bodies)} out; the file is left unchanged")
    lines = md.read_text().splitlines()
    for (start, body), new in sorted(zip(cells, bodies, strict=True), key=lambda c: -c[0][0]):
        while new and not new[-1].strip():
            new.pop()
        while new and not new[0].strip():
            new.pop(0)
        lines[start - 1 : start - 1 + len(body)] = new
    md.write_text("\n".join(lines) + "\n")


def lint(md: Path, ruff: str) -> list[str]:
    """Ruff findings for one chapter as 'book/x.md:line:col: CODE message'."""
    cells = code_cells(md)
    text, line_map = [], []
    for start, body in cells:
        text.append("# %%")
        line_map.append(None)
        for k, line in enumerate(body):
            text.append(line)
            line_map.append(start + k)
    with tempfile.NamedTemporaryFile("w", suffix=".py", dir=ROOT, prefix=f".lint-{md.stem}-", delete=False) as f:
        f.write("\n".join(text) + "\n")
        tmp = Path(f.name)
    try:
        out = subprocess.run(
            [ruff, "check", "--output-format", "json", "--extend-ignore", CHAPTER_IGNORES, str(tmp)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    finally:
        tmp.unlink()
    findings = []
    for item in json.loads(out.stdout or "[]"):
        row = item["location"]["row"]
        md_line = line_map[row - 1] if 0 < row <= len(line_map) and line_map[row - 1] else "?"
        findings.append(
            f"{md.relative_to(ROOT)}:{md_line}:{item['location']['column']}: {item['code']} {item['message']}"
        )
    return findings


def main(argv: list[str]) -> int:
    """Lint every chapter given (default: all of book/*.md), fixing first with --fix; exit 1 on findings."""
    ruff = str(Path(sys.executable).parent / "ruff")
    do_fix = "--fix" in argv
    chapters = [Path(a).resolve() for a in argv if a != "--fix"] or sorted((ROOT / "book").glob("*.md"))
    if do_fix:
        for md in chapters:
            fix(md, ruff)
    findings = [f for md in chapters for f in lint(md, ruff)]
    print("\n".join(findings) if findings else f"chapters: {len(chapters)} checked, no findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
