"""The book's build contract: toc entries are MyST notebooks with parameters cells; params and citations resolve."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

from gancnn.book.runner import notebook_parameters

TEXT_PAGES = {"book/intro", "book/references"}  # pages without code (no parameters cell needed)


def _toc_files(repo_root: Path) -> list[str]:
    toc = yaml.safe_load((repo_root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        for entry in part.get("chapters", []):
            files.append(entry["file"])
            files.extend(s["file"] for s in entry.get("sections", []))
    return files


def _chapters(repo_root: Path) -> list[str]:
    return [f for f in _toc_files(repo_root) if f not in TEXT_PAGES]


def test_toc_entries_exist_and_are_myst(repo_root: Path) -> None:
    files = _toc_files(repo_root)
    assert files[0] == "book/intro" and len(files) == len(set(files))
    for f in files:
        path = repo_root / f"{f}.md"
        assert path.is_file(), f"{f} is in _toc.yml but {path} does not exist"
        if f in TEXT_PAGES:
            continue
        header = path.read_text().split("---")[1]
        meta = yaml.safe_load(header)
        assert meta["jupytext"]["text_representation"]["format_name"] == "myst", f
        assert meta["kernelspec"]["name"] == "python3", f


def test_chapters_have_one_parameters_cell_with_profile_device_seed(repo_root: Path) -> None:
    for f in _chapters(repo_root):
        nb = jupytext.read(repo_root / f"{f}.md")
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{f}: expected exactly one cell tagged 'parameters', found {len(tagged)}"
        names = notebook_parameters(repo_root / f"{f}.md")
        for knob in ("profile", "device", "seed"):
            assert knob in names, f"{f}: parameters cell lacks {knob!r}"
        assert names["profile"]["default"].strip("'\"") == "quick", f"{f}: default profile must be quick"


def test_params_files_name_existing_chapters_and_parameters(repo_root: Path) -> None:
    for path in sorted((repo_root / "params").glob("*/*.yaml")):
        assert path.parent.name in ("quick", "full"), path
        chapter = repo_root / "book" / f"{path.stem}.md"
        assert chapter.is_file(), f"{path} names no chapter"
        values = yaml.safe_load(path.read_text()) or {}
        unknown = set(values) - set(notebook_parameters(chapter))
        assert not unknown, f"{path}: {sorted(unknown)} are not in the parameters cell"


def test_citations_resolve(repo_root: Path) -> None:
    bib = (repo_root / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M)
    assert len(keys) == len(set(keys)), "duplicate BibTeX keys"
    for page in (repo_root / "book").glob("*.md"):
        text = page.read_text()
        prefixes = re.findall(r":keyprefix:\s*(\S+)", text)  # a page-local bibliography
        for group in re.findall(r"\{cite[pt]?\}`([^`]+)`", text):
            for key in (k.strip() for k in group.split(",")):
                bare = next((key[len(p) :] for p in prefixes if key.startswith(p)), key)
                assert bare in keys, f"{page.name} cites unknown key {key!r}"


def test_config_is_strict_and_mathematical(repo_root: Path) -> None:
    cfg = yaml.safe_load((repo_root / "_config.yml").read_text())
    assert {"dollarmath", "amsmath"} <= set(cfg["parse"]["myst_enable_extensions"])
    assert cfg["execute"]["allow_errors"] is False
    assert cfg["sphinx"]["config"]["numfig"] is True
    assert cfg["bibtex_bibfiles"] == ["book/references.bib"]
    make = (repo_root / "Makefile").read_text()
    assert "jupyter-book build . -W -n --keep-going" in make
    ci = (repo_root / ".ci" / "run").read_text()
    assert "make test" in ci and "make book" in ci


@pytest.mark.parametrize("ignored", [".venv/", "_build/", "runs/", "data/"])
def test_gitignore(repo_root: Path, ignored: str) -> None:
    assert ignored in (repo_root / ".gitignore").read_text().split()


FORBIDDEN_IN_CHAPTERS = {
    r"^\s*class \w+\((?:torch\.)?nn\.Module\)": "a model defined in a chapter (it belongs in gancnn.models)",
    r"\.backward\(": "a training step written in a chapter (use a trainer from the library)",
    r"\b(?:opt|optimizer|optim)\w*\.step\(": "an optimizer step written in a chapter",
    r"^\s*def get_model\(": "a model lookup written in a chapter (use gancnn.reference.classifiers.chapter_model)",
    r"^\s*import gancnn\b|^\s*from gancnn import (?:cache|params|plots|seed|paths)\b": "an import of a moved module",
}


@pytest.mark.parametrize("pattern", sorted(FORBIDDEN_IN_CHAPTERS))
def test_chapters_keep_drivers_in_the_library(repo_root: Path, pattern: str) -> None:
    """No chapter code cell defines a model, a training loop or a model lookup: those live in src/gancnn."""
    found = []
    for f in _chapters(repo_root):
        nb = jupytext.read(repo_root / f"{f}.md")
        for k, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and re.search(pattern, cell.source, re.M):
                found.append(f"{f} cell {k}")
    assert not found, f"{FORBIDDEN_IN_CHAPTERS[pattern]}: {found}"
