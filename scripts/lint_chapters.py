"""Lint the code cells of the MyST chapters with ruff, reporting chapter line numbers.

Each chapter's code cells are written, in order, to one temporary Python file (markdown is dropped,
so prose never trips the line-length rule); ruff's findings are mapped back to `book/<chapter>.md`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
        out = subprocess.run([ruff, "check", "--output-format", "json", "--extend-ignore", "E402,F704,B018",
                              str(tmp)], capture_output=True, text=True, cwd=ROOT)
    finally:
        tmp.unlink()
    findings = []
    for item in json.loads(out.stdout or "[]"):
        row = item["location"]["row"]
        md_line = line_map[row - 1] if 0 < row <= len(line_map) and line_map[row - 1] else "?"
        findings.append(f"{md.relative_to(ROOT)}:{md_line}:{item['location']['column']}: {item['code']} "
                        f"{item['message']}")
    return findings


def main(argv: list[str]) -> int:
    """Lint every chapter given (default: all of book/*.md); exit 1 when anything is found."""
    ruff = str(Path(sys.executable).parent / "ruff")
    chapters = [Path(a).resolve() for a in argv] or sorted((ROOT / "book").glob("*.md"))
    findings = [f for md in chapters for f in lint(md, ruff)]
    print("\n".join(findings) if findings else f"chapters: {len(chapters)} checked, no findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
