"""The result cache: keys follow the configuration, writes are atomic, corruption is reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from gancnn.book import cache


def _compute_counter() -> tuple[list[int], callable]:
    calls: list[int] = []

    def compute() -> dict:
        calls.append(1)
        return {"acc": 0.5, "curve": np.arange(4.0), "weights": {"w": torch.ones(2, 2)}, "name": "x"}

    return calls, compute


def test_roundtrip_and_hit(tmp_artifacts: Path) -> None:
    calls, compute = _compute_counter()
    first = cache.cached("quick", "demo", {"a": 1, "b": [1, 2]}, compute)
    second = cache.cached("quick", "demo", {"b": [1, 2], "a": 1}, compute)  # same config, other key order
    assert len(calls) == 1 and first["_cached"] is False and second["_cached"] is True
    np.testing.assert_array_equal(second["curve"], np.arange(4.0))
    assert torch.equal(second["weights"]["w"], torch.ones(2, 2)) and second["acc"] == 0.5
    prov = second["_provenance"]
    for field in ("date", "device", "git_commit", "data_copy", "wall_time_s", "config"):
        assert field in prov
    assert (tmp_artifacts / "artifacts" / "quick" / "demo" / prov["key"] / "provenance.json").is_file()


def test_config_change_invalidates(tmp_artifacts: Path) -> None:
    calls, compute = _compute_counter()
    cache.cached("quick", "demo", {"a": 1}, compute)
    cache.cached("quick", "demo", {"a": 2}, compute)
    cache.cached("full", "demo", {"a": 1}, compute)
    assert len(calls) == 3
    assert cache.config_key({"a": 1}) != cache.config_key({"a": 1.5})


def test_corrupted_file_is_a_clear_error(tmp_artifacts: Path) -> None:
    _, compute = _compute_counter()
    out = cache.cached("quick", "demo", {"a": 1}, compute)
    folder = cache.entry_dir("quick", "demo", {"a": 1})
    (folder / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(cache.CacheCorruptedError, match="delete"):
        cache.load("quick", "demo", {"a": 1})
    (folder / "provenance.json").write_text("{not json")
    with pytest.raises(cache.CacheCorruptedError, match="corrupted"):
        cache.load("quick", "demo", {"a": 1})
    assert out["acc"] == 0.5


def test_failed_compute_leaves_nothing(tmp_artifacts: Path) -> None:
    def boom() -> dict:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        cache.cached("quick", "demo", {"a": 9}, boom)
    assert cache.load("quick", "demo", {"a": 9}) is None
    parent = tmp_artifacts / "artifacts" / "quick" / "demo"
    assert not parent.exists() or not any(parent.iterdir())


def test_save_is_atomic_no_temporary_left(tmp_artifacts: Path) -> None:
    cache.save("quick", "demo", {"a": 3}, {"x": 1}, wall_time_s=0.1)
    cache.save("quick", "demo", {"a": 3}, {"x": 2}, wall_time_s=0.1)  # overwrite
    parent = tmp_artifacts / "artifacts" / "quick" / "demo"
    assert [p.name for p in parent.iterdir()] == [cache.config_key({"a": 3})]
    assert cache.load("quick", "demo", {"a": 3})["x"] == 2
    prov = json.loads((parent / cache.config_key({"a": 3}) / "provenance.json").read_text())
    assert set(prov["files"]) == {"result.json"}


def test_list_entries(tmp_artifacts: Path) -> None:
    assert cache.list_entries("full") == []
    cache.save("full", "b-exp", {"a": 1}, {"x": 1}, wall_time_s=1.0)
    cache.save("full", "a-exp", {"a": 2}, {"x": 2}, wall_time_s=2.0)
    cache.save("quick", "a-exp", {"a": 2}, {"x": 2}, wall_time_s=2.0)
    records = cache.list_entries("full")
    assert [r["experiment"] for r in records] == ["a-exp", "b-exp"] and records[0]["wall_time_s"] == 2.0


def test_rekey_moves_an_entry_to_an_equivalent_config_and_keeps_its_provenance(tmp_artifacts: Path) -> None:
    """After a knob rename the stored result answers the new config (same files, same date) and not the old one."""
    calls, compute = _compute_counter()
    old_cfg, new_cfg = {"fid_points": 8, "a": 1}, {"curve_points": 8, "a": 1}
    before = cache.cached("quick", "demo", old_cfg, compute)
    folder = cache.rekey("quick", "demo", old_cfg, new_cfg, reason="knob renamed")
    assert cache.load("quick", "demo", old_cfg) is None
    after = cache.cached("quick", "demo", new_cfg, compute)
    assert len(calls) == 1 and after["_cached"] is True and folder.name == after["_provenance"]["key"]
    assert after["_provenance"]["date"] == before["_provenance"]["date"]
    assert after["_provenance"]["rekeyed"]["from"] == before["_provenance"]["key"]
    assert after["_provenance"]["config"] == new_cfg and torch.equal(after["weights"]["w"], torch.ones(2, 2))
    with pytest.raises(FileNotFoundError):
        cache.rekey("quick", "demo", old_cfg, {"other": 1}, reason="gone")
    cache.cached("quick", "demo", old_cfg, compute)
    with pytest.raises(FileExistsError):
        cache.rekey("quick", "demo", old_cfg, new_cfg, reason="would overwrite")


def test_short_commit_keeps_the_dirty_mark() -> None:
    """A table's commit column shows 12 hex digits and still tells a dirty working tree (a plain [:12] hid it)."""
    from gancnn.book.cache import short_commit

    sha = "0343d650c752" + "a" * 28
    assert short_commit(sha) == "0343d650c752"
    assert short_commit(sha + "-dirty") == "0343d650c752-dirty"
    assert short_commit("unknown") == "unknown"


def _scratch_repo(tmp_path: Path, monkeypatch, files: tuple[str, ...]) -> tuple[Path, Callable[..., None]]:
    """A git repository under tmp_path with `files` (each holding its name) committed, made the project root; returns
    it and a function running git in it."""
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
        )

    for name in files:
        (repo / name).write_text(name)
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "x")
    monkeypatch.setattr(cache, "project_root", lambda: repo)
    return repo, git


def test_provenance_names_the_uncommitted_changes(tmp_path: Path, tmp_artifacts: Path, monkeypatch) -> None:
    """'-dirty' comes with the list of tracked files that differed from HEAD (renames and spaces included)."""
    repo, git = _scratch_repo(tmp_path, monkeypatch, ("a.py", "b c.py", "old.py", "same.py"))
    clean = cache.git_commit()
    assert len(clean) == 40 and cache.uncommitted_changes() == []
    (repo / "a.py").write_text("changed")
    (repo / "b c.py").write_text("changed")
    (repo / "untracked.py").write_text("new")  # untracked files do not make a tree dirty
    git("mv", "old.py", "new.py")
    assert cache.uncommitted_changes() == ["a.py", "b c.py", "new.py"]
    assert cache.git_commit() == clean + "-dirty"
    cache.save("quick", "demo", {"a": 1}, {"x": 1.0}, wall_time_s=0.0)
    prov = cache.load("quick", "demo", {"a": 1})["_provenance"]
    assert prov["git_commit"] == clean + "-dirty" and prov["uncommitted_changes"] == ["a.py", "b c.py", "new.py"]
    monkeypatch.setattr(cache, "project_root", lambda: tmp_path / "not-a-repo")
    assert cache.uncommitted_changes() is None and cache.git_commit() == "unknown"


def test_provenance_names_the_code_that_ran_not_the_tree_at_save(
    tmp_path: Path, tmp_artifacts: Path, monkeypatch
) -> None:
    """A tree edited while a computation runs: the entry records the commit at the start, the edit at save beside it."""
    repo, _ = _scratch_repo(tmp_path, monkeypatch, ("a.py",))
    clean = cache.git_commit()

    def edit_while_running() -> dict:
        (repo / "a.py").write_text("edited during the run")
        return {"x": 1.0}

    prov = cache.cached("quick", "demo", {"a": 1}, edit_while_running)["_provenance"]
    assert prov["git_commit"] == clean and prov["uncommitted_changes"] == []
    assert prov["code_at_save"] == {"git_commit": clean + "-dirty", "uncommitted_changes": ["a.py"]}
    prov = cache.cached("quick", "demo", {"a": 2}, lambda: {"x": 2.0})["_provenance"]  # no edit: no second record
    assert prov["git_commit"] == clean + "-dirty" and "code_at_save" not in prov
    assert "code_at_import" not in prov  # this process imported the cache in another tree: nothing to compare


def test_provenance_names_the_tree_the_process_imported_when_edited_before_a_later_computation(
    tmp_path: Path, tmp_artifacts: Path, monkeypatch
) -> None:
    """One process storing entries one after another: an edit between them is recorded as the tree at the start of
    the later computation, with the tree the process imported (the code it runs) beside it."""
    repo, _ = _scratch_repo(tmp_path, monkeypatch, ("a.py",))
    clean = cache.git_commit()
    monkeypatch.setitem(cache._CODE_AT_IMPORT, str(repo), cache.code_state())  # as if imported in this tree
    first = cache.cached("quick", "demo", {"a": 1}, lambda: {"x": 1.0})["_provenance"]
    assert first["git_commit"] == clean and "code_at_import" not in first and "code_at_save" not in first
    (repo / "a.py").write_text("edited between the computations")
    second = cache.cached("quick", "demo", {"a": 2}, lambda: {"x": 2.0})["_provenance"]
    assert second["git_commit"] == clean + "-dirty" and second["uncommitted_changes"] == ["a.py"]
    assert second["code_at_import"] == {"git_commit": clean, "uncommitted_changes": []}
