"""The student edition: exercises and solutions parsed from the chapters, solutions left out of the notebooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gancnn.book import student
from gancnn.book.paths import project_root

# (exercises, solutions, gated solutions) per chapter, as the chapters stand after their conversion
COUNTS = {
    "optimization-exercises": (8, 8, 0),
    "conv-arithmetic": (4, 4, 4),
    "gan-math": (3, 3, 1),
    "adjoint-v1": (1, 1, 0),
    "adjoint-v2": (1, 1, 1),
    "dcgan-sagan": (3, 3, 2),
}
# Sentences (or code) that occur in a chapter only inside one of its solutions
SOLUTION_SNIPPETS = {
    "optimization-exercises": [
        "the interpolating solution closest to",
        "halves its effect along with",
        "no single step clears all of them",
        "Checkpointing: keep",
        "Strided and transposed convolutions learn those combinations",
    ],
    "conv-arithmetic": ["only odd kernels", "still not an inverse", "odd_only = [", "w_unit = torch.randn"],
    "gan-math": ["Spectral normalization divides by", "blk_count = count_parameters"],
    "adjoint-v1": ["is exact in binary floating point"],
    "dcgan-sagan": ["exact_norms = []", "half_sizes = fid.subsample_sizes(half)", "steadier critic loss"],
    "adjoint-v2": ["bias_share[name] = abs(", "entries alone does not decide it"],
}

SYNTHETIC = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A synthetic chapter

```{code-cell} ipython3
base = 2
```

:::{exercise} plain one
:label: ex-plain

What is $1 + 1$?
:::

:::{solution} ex-plain
:class: dropdown

PLAIN-ANSWER: two.
:::

::::{exercise}
:label: ex-gated

Compute `base ** 3`.

:::{dropdown} Hint
HINT-TEXT: multiply three times.
:::
::::

:::{solution-start} ex-gated
:class: dropdown
:::

GATED-ANSWER: eight, checked below.

```{code-cell} ipython3
gated_value = base**3
assert gated_value == 8
```

GATED-TAIL after the code.

:::{solution-end}
:::

Between the exercises; a fenced block that only shows the syntax:

```text
:::{solution} ex-nowhere
NOT-A-SOLUTION
:::
```

:::{exercise} left open
:label: ex-open

No solution for this one.
:::

```{code-cell} ipython3
after = base + 1
```
"""


@pytest.fixture(scope="module")
def chapters(repo_root: Path) -> dict[str, student.Chapter]:
    """The parsed chapters of the book that have exercises."""
    return {c.name: c for c in student.chapters_with_exercises(repo_root / "book")}


def sources(chapter: student.Chapter) -> str:
    """Every cell source of the student notebook, joined."""
    return "\n".join(c.source for c in chapter.student.cells)


def test_chapters_with_exercises_are_found(chapters: dict[str, student.Chapter]) -> None:
    assert set(chapters) == set(COUNTS)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_exercise_and_solution_counts(chapters: dict[str, student.Chapter], name: str) -> None:
    n_ex, n_sol, n_gated = COUNTS[name]
    chapter = chapters[name]
    assert len(chapter.exercises) == n_ex
    assert len(chapter.solutions) == n_sol
    assert sum(s.gated for s in chapter.solutions) == n_gated
    assert all(e.label.startswith("ex-") and e.text for e in chapter.exercises)
    assert all(s.text for s in chapter.solutions)


@pytest.mark.parametrize("name", sorted(n for n, (_, sol, _) in COUNTS.items() if sol))
def test_every_exercise_has_exactly_one_solution(chapters: dict[str, student.Chapter], name: str) -> None:
    chapter = chapters[name]
    targets = [s.target for s in chapter.solutions]
    assert sorted(targets) == sorted(e.label for e in chapter.exercises)
    assert len(set(targets)) == len(targets)


def test_gated_solutions_carry_their_code(chapters: dict[str, student.Chapter]) -> None:
    conv = chapters["conv-arithmetic"]
    assert all(s.code for s in conv.solutions)
    receptive = conv.solution_for("ex-conv-receptive-field")
    assert receptive is not None and "coursework_rf = receptive.receptive_field" in receptive.code[0]
    block = chapters["gan-math"].solution_for("ex-gan-block-parameters")
    assert block is not None and block.gated and "assert blk_count == 8_654_336" in block.code[0]


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_student_notebook_has_one_stub_per_exercise_right_after_it(
    chapters: dict[str, student.Chapter], name: str
) -> None:
    chapter = chapters[name]
    cells = chapter.student.cells
    stubs = [k for k, c in enumerate(cells) if c.cell_type == "code" and student.is_stub(c.source)]
    assert chapter.stubs() == len(stubs) == len(chapter.exercises)
    for k, ex in zip(stubs, chapter.exercises):
        assert cells[k].source == student.stub_source(ex.label)
        assert f'raise NotImplementedError("Exercise {ex.label}: not done yet")' in cells[k].source
        assert cells[k - 1].cell_type == "markdown" and f":label: {ex.label}" in cells[k - 1].source


@pytest.mark.parametrize("name", sorted(SOLUTION_SNIPPETS))
def test_student_notebook_has_no_solution_and_the_solutions_file_has_them(
    chapters: dict[str, student.Chapter], repo_root: Path, name: str
) -> None:
    chapter = chapters[name]
    original = (repo_root / "book" / f"{name}.md").read_text()
    notebook = sources(chapter)
    page = student.solutions_markdown(chapter)
    for snippet in SOLUTION_SNIPPETS[name]:
        assert original.count(snippet) >= 1, f"{snippet!r} is no longer in book/{name}.md"
        assert snippet not in notebook, f"{snippet!r} leaked into the student notebook"
        assert snippet in page
    for directive in ("{solution}", "{solution-start}", "{solution-end}", ":class: dropdown\n"):
        assert directive not in notebook
    for ex in chapter.exercises:
        assert f"`{ex.label}`" in page and ex.text in page
        assert ex.text in notebook  # the exercises themselves stay


def test_every_exercise_in_the_book_has_a_hidden_solution(chapters: dict[str, student.Chapter]) -> None:
    """Each exercise has exactly one solution, folded (dropdown); a solution-less exercise would be marked."""
    for chapter in chapters.values():
        for exercise in chapter.exercises:
            assert chapter.solution_for(exercise.label) is not None, (chapter.name, exercise.label)
        assert "*The book gives no solution.*" not in student.solutions_markdown(chapter)
    for path in sorted((project_root() / "book").glob("*.md")):
        text = path.read_text()
        assert text.count(":class: dropdown") >= text.count("{solution}") + text.count("{solution-start}"), path.name
    bare = student.parse_text(SYNTHETIC.split(":::{solution} ex-plain")[0], "bare")
    assert "*The book gives no solution.*" in student.solutions_markdown(bare)
    fid = next(e for e in chapters["dcgan-sagan"].exercises if e.label == "ex-dcgan-fid-bias")
    assert ":::{dropdown} Hint" in fid.text  # the hint belongs to the exercise and stays in the notebook


def test_synthetic_plain_and_gated_solutions() -> None:
    chapter = student.parse_text(SYNTHETIC, "synthetic")
    assert chapter.title == "A synthetic chapter"
    assert [(e.label, e.title) for e in chapter.exercises] == [
        ("ex-plain", "plain one"),
        ("ex-gated", ""),
        ("ex-open", "left open"),
    ]
    plain, gated = chapter.solutions
    assert (plain.target, plain.text, plain.code, plain.gated) == ("ex-plain", "PLAIN-ANSWER: two.", (), False)
    assert gated.target == "ex-gated" and gated.gated
    assert gated.code == ("gated_value = base**3\nassert gated_value == 8",)
    assert gated.text.startswith("GATED-ANSWER") and gated.text.endswith("GATED-TAIL after the code.")
    assert "HINT-TEXT" in chapter.exercises[1].text
    assert chapter.solution_for("ex-open") is None

    cells = chapter.student.cells
    text = sources(chapter)
    leaks = (
        "PLAIN-ANSWER",
        "GATED-ANSWER",
        "GATED-TAIL",
        "gated_value",
        "{solution} ex-plain",
        "{solution-",
        ":class:",
    )
    for leaked in leaks:
        assert leaked not in text
    assert "HINT-TEXT" in text and "NOT-A-SOLUTION" in text and "after = base + 1" in text
    code = [c.source for c in cells if c.cell_type == "code"]
    assert code == [
        "base = 2",
        student.stub_source("ex-plain"),
        student.stub_source("ex-gated"),
        student.stub_source("ex-open"),
        "after = base + 1",
    ]
    assert all(c.source.strip() for c in cells)  # no empty cells left where solutions were

    page = student.solutions_markdown(chapter)
    for kept in (
        "PLAIN-ANSWER",
        "GATED-ANSWER",
        "GATED-TAIL",
        "gated_value = base**3",
        "*The book gives no solution.*",
    ):
        assert kept in page
    assert "NOT-A-SOLUTION" not in page


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (":::{solution} ex-missing\nanswer\n:::\n", "unknown exercise label 'ex-missing'"),
        (":::{solution-start} ex-plain\n:::\n\nanswer\n", "without its {solution-end}"),
        (":::{solution} ex-plain\nsecond answer\n:::\n", "more than one solution"),
        (":::{exercise}\nno label\n:::\n", "has no :label:"),
        (":::{solution} ex-plain\nnever closed\n", "is not closed"),
    ],
)
def test_broken_chapters_are_refused(bad: str, message: str) -> None:
    with pytest.raises(student.StudentError, match=message.replace("{", r"\{").replace("}", r"\}")):
        student.parse_text(SYNTHETIC + "\n" + bad, "synthetic")


def test_script_writes_the_edition_and_fails_in_one_line(repo_root: Path, tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "synthetic.md").write_text(SYNTHETIC)
    (book / "plain.md").write_text("# No exercises here\n")
    script = [sys.executable, str(repo_root / "scripts" / "student.py"), "--book", str(book)]
    script += ["--notebooks", str(tmp_path / "notebooks")]
    done = subprocess.run([*script, "--out", str(tmp_path / "out")], capture_output=True, text=True, check=True)
    url, branch = student.repository(repo_root / "_config.yml")
    assert done.stdout.splitlines() == [
        f"synthetic: 3 exercises, 2 solutions, 3 stubs written to {tmp_path / 'out' / 'synthetic.ipynb'}",
        f"launchable edition: 1 chapter notebooks in {tmp_path / 'notebooks'} (installs from {url}@{branch})",
    ]
    assert (tmp_path / "out" / "synthetic.ipynb").is_file()
    assert (tmp_path / "notebooks" / "synthetic.ipynb").is_file()  # plain.md has no code: no notebook
    assert "GATED-ANSWER" in (tmp_path / "out" / "solutions" / "synthetic.md").read_text()

    (book / "broken.md").write_text(SYNTHETIC + "\n:::{solution} ex-typo\nanswer\n:::\n")
    failed = subprocess.run([*script, "--out", str(tmp_path / "out2")], capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "student: broken: a solution points at an unknown exercise label 'ex-typo'"
    ]
    assert not (tmp_path / "out2").exists()


def test_student_notebook_runs_up_to_its_first_stub(
    chapters: dict[str, student.Chapter], tmp_artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cells before the first exercise of optimization-exercises run; the stub raises NotImplementedError."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("GANCNN_PROGRESS", "0")
    chapter = chapters["optimization-exercises"]
    url, branch = student.repository(project_root() / "_config.yml")
    nb = nbformat.from_dict(student.launchable(chapter.student, chapter.name, url, branch, None))  # with its set-up
    first = next(k for k, c in enumerate(nb.cells) if c.cell_type == "code" and student.is_stub(c.source))
    nb.cells = nb.cells[: first + 1]
    assert sum(c.cell_type == "code" for c in nb.cells) >= 4  # parameters, set-up, section 1, its figure, the stub
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_artifacts)}}
    )
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert err.value.ename == "NotImplementedError"
    assert "Exercise ex-opt-start-elsewhere: not done yet" in err.value.evalue
    for cell in nb.cells[:first]:
        if cell.cell_type == "code":
            assert cell.execution_count is not None
            assert not [o for o in cell.outputs if o.output_type == "error"]
    assert any(o.output_type == "error" for o in nb.cells[first].outputs)
