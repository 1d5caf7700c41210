"""Chapters that say how long they run, notebooks that run where they are launched, a Colab button that opens them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gancnn.book import student, timings
from gancnn.book.paths import project_root

sys.path.insert(0, str(project_root() / "_ext"))
import chapter_header  # noqa: E402
import launch_notebooks  # noqa: E402

RECORD = {"profile": "quick", "machine": "Test CPU, 2 CPU cores, no GPU", "date": "2026-12-02", "seconds": {"a": 200.0}}


@pytest.mark.parametrize(
    "seconds,words",
    [(12.0, "under a minute"), (60.0, "about 1 minute"), (209.0, "about 3 minutes"), (7200.0, "about 2.0 hours")],
)
def test_duration_words(seconds: float, words: str) -> None:
    assert timings.duration_words(seconds) == words


def test_runtime_note_gives_the_measured_time_and_the_gpu_need() -> None:
    """A heavy chapter's full profile needs a GPU; a light one runs on a laptop; an unmeasured one says so."""
    heavy = timings.HEAVY_CHAPTERS[0]
    note = timings.runtime_note(heavy, {**RECORD, "seconds": {heavy: 209.0}})
    assert "about 3 minutes (209 s in the recorded build of 2026-12-02 on Test CPU" in note
    assert "busy with other work takes longer" in note  # the figure is that build's, not this execution's
    assert "needs a GPU" in note and f"CHAPTER={heavy} PROFILE=full DEVICE=cuda" in note
    light = timings.runtime_note("conv-arithmetic", {**RECORD, "seconds": {"conv-arithmetic": 30.0}})
    assert "under a minute" in light and "runs on a laptop too" in light and "needs a GPU" not in light
    assert "has not been recorded yet" in timings.runtime_note("new-chapter", RECORD)
    assert "has not been recorded yet" in timings.runtime_note("new-chapter", None)


def test_make_record_refuses_bad_times() -> None:
    with pytest.raises(ValueError, match="non-negative seconds"):
        timings.make_record({"a": float("nan")}, "m", "d")
    with pytest.raises(ValueError, match="non-negative seconds"):
        timings.make_record({"a": -1.0}, "m", "d")
    assert timings.make_record({"b": 2.0, "a": 1.0}, "m", "d")["seconds"] == {"a": 1.0, "b": 2.0}


def test_the_note_goes_under_the_first_title_only() -> None:
    lines = ["(label)=", "# Title", "text", "# Another"]
    out = timings.insert_after_title(lines, "NOTE")
    assert out == ["(label)=", "# Title", "", "NOTE", "", "text", "# Another"]
    assert timings.insert_after_title(["no title"], "NOTE") == ["no title"]


class _Env:
    """The piece of a Sphinx environment the extension touches."""

    def __init__(self) -> None:
        self.dependencies: list[str] = []

    def note_dependency(self, path: str) -> None:
        self.dependencies.append(path)


class _App:
    def __init__(self) -> None:
        self.env = _Env()


def test_chapter_header_adds_the_note_to_chapters_only(tmp_path: Path, monkeypatch) -> None:
    """Chapters with code get the note under their title; gathering pages and pages without code do not."""
    record = tmp_path / "quick-build.json"
    record.write_text(json.dumps({**RECORD, "seconds": {"gan-math": 90.0}}))
    monkeypatch.setattr(timings, "record_path", lambda root=None: record)
    chapter = ["(gan-math)=\n# GAN maths\n\n```{code-cell} ipython3\nx = 1\n```\n"]
    chapter_header._add_header(_App(), "book/gan-math", chapter)
    assert "# GAN maths\n\n:::{admonition} Running this chapter" in chapter[0]
    assert "about 2 minutes (90 s in the recorded build of 2026-12-02" in chapter[0]
    url, branch = student.repository(project_root() / "_config.yml")
    setup = f"```{{code-cell}} ipython3\n:tags: [hide-cell]\n{student.setup_cell_source(url, branch)}\n```"
    assert chapter[0].index(setup) < chapter[0].index("x = 1")  # the set-up cell comes before the first cell
    assert chapter[0].count("{code-cell}") == 2
    for doc, text in (
        ("book/intro", chapter_header.__doc__ + "# T\n```{code-cell} ipython3\n```"),
        ("book/x", "# T\n"),
    ):
        source = [text]
        chapter_header._add_header(_App(), doc, source)
        assert source == [text]


def test_colab_opens_the_notebook_edition() -> None:
    url = "https://colab.research.google.com/github/org/repo/blob/main/book/gan-math.md"
    assert launch_notebooks.colab_notebook_url(url, "main", "notebooks") == (
        "https://colab.research.google.com/github/org/repo/blob/notebooks/book/gan-math.ipynb"
    )
    with pytest.raises(ValueError, match="not a Colab URL"):
        launch_notebooks.colab_notebook_url(url, "dev", "notebooks")


def test_repository_is_read_from_the_config(tmp_path: Path) -> None:
    """The URL and branch come from _config.yml; a config without a URL is refused in one line."""
    url, branch = student.repository(project_root() / "_config.yml")
    assert url.startswith("https://github.com/") and branch == "main"
    bare = tmp_path / "_config.yml"
    bare.write_text("title: x\n")
    with pytest.raises(student.StudentError, match="no repository.url"):
        student.repository(bare)


def test_setup_cell_names_the_repository_and_does_nothing_where_gancnn_is_installed(tmp_path: Path) -> None:
    """The cell clones the configured repository only when gancnn is missing; here it is a no-op."""
    source = student.setup_cell_source("https://github.com/fork/book", "spring-term")
    assert '"--branch", "spring-term", "https://github.com/fork/book"' in source
    run = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert list(tmp_path.iterdir()) == []  # nothing cloned


def test_launchable_notebook_starts_with_the_setup_and_the_note(tmp_path: Path) -> None:
    """The set-up cell comes before the first code cell; the run-time note sits under the title."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter\ntext"), nbformat.v4.new_code_cell("x = 1")]
    out = student.launchable(nb, "conv-arithmetic", "https://github.com/fork/book", "main", None)
    assert [c.cell_type for c in out.cells] == ["markdown", "code", "code"]
    assert out.cells[1].source == student.setup_cell_source("https://github.com/fork/book", "main")
    assert "Running this chapter" in out.cells[0].source and out.cells[2].source == "x = 1"
    assert len(nb.cells) == 2  # the input is left alone


def test_notebook_edition_covers_every_chapter_with_code(tmp_path: Path) -> None:
    book = project_root() / "book"
    written = student.write_notebook_edition(book, tmp_path, "https://github.com/fork/book", "main", None)
    with_code = [p.stem for p in sorted(book.glob("*.md")) if "{code-cell}" in p.read_text()]
    assert [p.stem for p in written] == with_code
    first = nbformat.read(str(written[0]), as_version=4)
    assert first.cells[[c.cell_type for c in first.cells].index("code")].source.startswith("# Set-up for Colab")


def test_images_get_their_caption_or_section_as_alt_text() -> None:
    """A figure's image takes its caption; a bare output image its section title; a given alt text stays."""
    import figure_alt
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    doc = new_document("test", get_default_settings(Parser))
    section = nodes.section("", nodes.title("", "Sample grids"))
    figure = nodes.figure(
        "", nodes.container("", nodes.image(uri="a.png")), nodes.caption("", "DCGAN  samples\nat step 10")
    )
    bare = nodes.image(uri="b.png", alt="b.png")
    kept = nodes.image(uri="c.png", alt="A chart of FID against steps")
    section += [figure, bare, kept]
    doc += section
    assert figure_alt.fill_alt_texts(doc) == 2
    images = list(doc.findall(nodes.image))
    assert [i["alt"] for i in images] == [
        "DCGAN samples at step 10",
        "Output of a code cell in section 'Sample grids'",
        "A chart of FID against steps",
    ]


def test_setup_cell_clones_installs_and_moves_into_the_book_when_gancnn_is_missing(tmp_path: Path, monkeypatch) -> None:
    """With gancnn missing, the cell clones the configured branch, installs it editable and runs from book/."""
    import importlib.util
    import os

    calls: list[list[str]] = []

    def fake_check_call(cmd: list[str]) -> int:
        """Record the command; a clone creates the checkout's book/ folder."""
        calls.append(cmd)
        if cmd[:2] == ["git", "clone"]:
            os.makedirs(os.path.join(cmd[-1], "book"))
        return 0

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(subprocess, "check_call", fake_check_call)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gancnn" else real_find_spec(name, *a)
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("GANCNN_ROOT", str(project_root()))  # restored after the test
    monkeypatch.chdir(tmp_path)
    exec(student.setup_cell_source("https://github.com/fork/book", "term-2"), {})
    root = str(tmp_path / "gans-and-cnns")
    assert calls == [
        ["git", "clone", "--depth", "1", "--branch", "term-2", "https://github.com/fork/book", root],
        [sys.executable, "-m", "pip", "install", "--quiet", "-e", root],
    ]
    assert os.getcwd() == os.path.join(root, "book") and os.environ["GANCNN_ROOT"] == root
    assert sys.path[0] == os.path.join(root, "src")
    calls.clear()
    monkeypatch.chdir(tmp_path)
    exec(student.setup_cell_source("https://github.com/fork/book", "term-2"), {})  # a second run: no new clone
    assert [c[:2] for c in calls] == [[sys.executable, "-m"]]


def test_data_come_from_the_checkout_with_downloads_on(tmp_path: Path, monkeypatch) -> None:
    """In a launched notebook (GANCNN_ROOT = the clone, nothing else set) data live in <clone>/data, downloads on."""
    from gancnn import data

    monkeypatch.setenv("GANCNN_ROOT", str(tmp_path))
    monkeypatch.delenv("GANCNN_DATA", raising=False)
    monkeypatch.delenv("GANCNN_DOWNLOAD", raising=False)
    assert data.data_root() == (tmp_path / "data").resolve()
    assert data.downloads_allowed()
