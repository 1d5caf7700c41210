"""The chapter start-up: knobs named once in the parameters cell, typed by their defaults, kernel prepared."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gancnn.book.params import ParameterError
from gancnn.book.startup import elapsed, knobs_in_namespace, parameters_cell, start_chapter

CHAPTER = """---
jupytext: {}
---
# A chapter

```{code-cell} ipython3
:tags: [parameters]
profile = "quick"  # "quick" or "full"
device = "cpu"
seed = 3
n_images = 100  # images to draw
lr = 0.05
classes = [1, 2]  # class indices
offset = 0  # may be zero
n_train = 500  # training images (None: all)
threads = 1
```

```{code-cell} ipython3
x = 1
```
"""


@pytest.fixture
def chapter_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "toy.md").write_text(CHAPTER)
    monkeypatch.setenv("GANCNN_ROOT", str(tmp_path))
    return tmp_path


def namespace(**changes):
    base = dict(
        profile="quick", device="cpu", seed=3, n_images=100, lr=0.05, classes=[1, 2], offset=0, n_train=500, threads=1
    )
    return {**base, **changes, "np": object(), "_": None, "In": ["x"]}


def test_parameters_cell_gives_names_defaults_and_comments(chapter_root: Path) -> None:
    spec = parameters_cell("toy")
    assert list(spec) == ["profile", "device", "seed", "n_images", "lr", "classes", "offset", "n_train", "threads"]
    assert spec["n_images"] == (100, "images to draw") and spec["n_train"][1] == "training images (None: all)"


def test_real_chapters_have_readable_parameters_cells(repo_root: Path) -> None:
    spec = parameters_cell("adjoint-v1", repo_root)
    assert spec["n_verify"][0] >= 2000 and spec["profile"][0] == "quick"


def test_start_chapter_validates_seeds_and_sets_threads(chapter_root: Path) -> None:
    before = torch.get_num_threads()
    cfg = start_chapter("toy", namespace(threads=2), zero_ok=("offset",))
    assert cfg.n_images == 100 and cfg.seed == 3 and "np" not in cfg
    assert torch.get_num_threads() == 2
    torch.set_num_threads(before)
    expected = torch.Generator().manual_seed(3)
    assert torch.equal(torch.rand(3), torch.rand(3, generator=expected))
    assert 0 <= elapsed() < 60


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_images": "100"}, "n_images"),
        ({"n_images": 2.5}, "n_images"),
        ({"lr": 0.0}, "lr must be positive"),
        ({"classes": [1, 0]}, "classes must be positive"),
        ({"n_images": None}, "n_images"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_knobs_fail_with_one_line(chapter_root: Path, changes: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        start_chapter("toy", namespace(**changes), zero_ok=("offset",))


def test_zero_needs_zero_ok_and_none_needs_a_comment(chapter_root: Path) -> None:
    with pytest.raises(ParameterError, match="offset must be positive"):
        start_chapter("toy", namespace())
    assert start_chapter("toy", namespace(n_train=None), zero_ok=("offset",)).n_train is None
    with pytest.raises(ParameterError, match="not knobs"):
        start_chapter("toy", namespace(), zero_ok=("offset", "ofset"))


def test_choices_restrict_values_and_list_elements(chapter_root: Path) -> None:
    with pytest.raises(ParameterError, match="choose from"):
        start_chapter("toy", namespace(classes=[1, 12]), zero_ok=("offset",), choices={"classes": range(10)})
    start_chapter("toy", namespace(), zero_ok=("offset",), choices={"classes": range(10)})


def test_missing_knob_is_named(chapter_root: Path) -> None:
    ns = namespace()
    del ns["lr"]
    with pytest.raises(ParameterError, match=r"\['lr'\]"):
        start_chapter("toy", ns, zero_ok=("offset",))


def test_without_the_chapter_file_the_simple_values_are_the_knobs(chapter_root: Path) -> None:
    assert set(knobs_in_namespace(namespace())) == set(namespace()) - {"np", "_", "In"}
    cfg = start_chapter("not-on-disk", namespace(), zero_ok=("offset",))
    assert cfg.lr == 0.05
    with pytest.raises(ParameterError, match="lr"):
        start_chapter("not-on-disk", namespace(lr=-1.0), zero_ok=("offset",))
