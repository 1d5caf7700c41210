"""The reference GANs: configuration checks, the stored-run key, the FID curve and table, loading generators."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from gancnn.gan import experiment
from gancnn.reference import gans


@pytest.mark.parametrize(
    "bad",
    [{"model": "biggan"}, {"n_steps": 0}, {"width": 12}, {"n_fid": 20000}, {"fid_chunk": 1}, {"n_fid_curve": 20000}],
)
def test_bad_gan_configurations_fail_at_once(bad: dict) -> None:
    with pytest.raises(ValueError):
        replace(gans.REFERENCE_GANS["dcgan"], **bad)


def test_reference_runs_use_the_chapter_knobs_and_full_scale_scoring() -> None:
    """All 50,000 training images, 10,000-image FIDs in 1024-image chunks, bf16 with channels_last."""
    for model, cfg in gans.REFERENCE_GANS.items():
        p = cfg.params()
        setup = experiment.setup_for(model, p)
        assert (cfg.n_train, cfg.n_fid, cfg.fid_chunk, cfg.n_fid_curve) == (50000, 10000, 1024, 1024)
        assert cfg.curve_points >= 8 and setup.precision == "bf16" and setup.channels_last
        assert setup.loss == ("nonsaturating" if model == "dcgan" else "wgan-gp")


def test_stored_key_changes_with_the_schedule_and_not_otherwise(offline_data) -> None:
    cfg = gans.REFERENCE_GANS["sagan"]
    assert gans.cache_config(cfg) == gans.cache_config(replace(cfg))
    assert gans.cache_config(cfg) != gans.cache_config(replace(cfg, n_steps=cfg.n_steps + 1))


def _record(model: str, cfg: gans.GANReferenceConfig) -> dict:
    """A record shaped like a stored run, with a freshly initialised fp16 generator."""
    G, _ = experiment.build_pair(model, 100, cfg.width, cfg.seed)
    return {
        "n_steps": 300,
        "fid_step": np.array([100.0, 200.0]),
        "fid": np.array([300.0, 200.0]),
        "final_curve_fid": 150.0,
        "final_fid": 100.0,
        "final_chunk_fid": 120.0 if model == "dcgan" else 80.0,
        "final_chunks": [120.0, 121.0],
        "n_fid": 2048,
        "fid_chunk": 1024,
        "generator": {k: v.half() if v.is_floating_point() else v for k, v in G.state_dict().items()},
        **({"ema_decay": cfg.ema_decay, "raw_chunk_fid": 130.0} if cfg.ema_decay else {}),
    }


def test_fid_curve_ends_with_the_final_first_chunk_and_table_compares_with_quotes() -> None:
    records = {m: _record(m, replace(gans.REFERENCE_GANS[m], ema_decay=0.0)) for m in ("dcgan", "sagan")}
    steps, values = gans.fid_curve(records["dcgan"])
    assert steps.tolist() == [100.0, 200.0, 300.0] and values.tolist() == [300.0, 200.0, 150.0]
    table = gans.fid_table(records)
    assert table.loc["DCGAN", "against the source"] == "worse"
    assert table.loc["SAGAN", "against the source"] == "better"
    assert table.loc["DCGAN", "source (quoted), chunks"] == "90"
    assert table.loc["SAGAN", "chunks"] == "2 x 1024"
    assert table.loc["DCGAN", "sampled from"] == "G" and table.loc["DCGAN", "first chunk: sampled / G itself"] == (
        "120.00 / -"
    )
    records["sagan"].update(ema_decay=0.999, raw_chunk_fid=95.5)
    averaged = gans.fid_table(records).loc["SAGAN"]
    assert averaged["sampled from"] == "average of G (0.999)"
    assert averaged["first chunk: sampled / G itself"] == "120.00 / 95.50"


def test_chunk_standard_error_matches_scipy_and_sizes_the_ledger_margin() -> None:
    from scipy import stats

    record = _record("dcgan", replace(gans.REFERENCE_GANS["dcgan"], ema_decay=0.0))
    record["final_chunks"] = [91.4, 85.9, 90.3, 90.9, 90.5, 86.4, 90.4, 87.6, 91.3]
    record["final_chunk_fid"] = float(np.mean(record["final_chunks"]))
    se = gans.chunk_standard_error(record)
    assert se == pytest.approx(stats.sem(record["final_chunks"]), rel=1e-12)
    assert gans.fid_table({"dcgan": record}).loc["DCGAN", "s.e. of the chunk mean"] == round(se, 2)
    (claim,) = gans.fid_claims({"dcgan": record | {"_provenance": {"profile": gans.PROFILE}}})
    margin = gans.SOURCE_CHUNK_FID["dcgan"] - record["final_chunk_fid"]
    assert claim.verdict == "reproduced" and f"by {margin:.2f} ({margin / se:.1f} standard errors" in claim.reason
    assert claim.reason.startswith("within two standard errors of the source's: lower by")
    assert gans.verdict("dcgan", record["final_chunk_fid"], se).startswith("level with the source")
    assert gans.verdict("dcgan", record["final_chunk_fid"]) == "better than the source"  # no error: plain
    clear = record | {"final_chunks": [c - 5.0 for c in record["final_chunks"]]}
    clear["final_chunk_fid"] = record["final_chunk_fid"] - 5.0
    (clear_claim,) = gans.fid_claims({"dcgan": clear | {"_provenance": {"profile": gans.PROFILE}}})
    assert clear_claim.verdict == "reproduced" and clear_claim.reason.startswith("lower than the source's by")
    assert gans.verdict_word("dcgan", clear["final_chunk_fid"], se) == "better"
    worse = record | {"final_chunks": [c + 5.0 for c in record["final_chunks"]]}
    worse["final_chunk_fid"] = record["final_chunk_fid"] + 5.0
    (worse_claim,) = gans.fid_claims(
        {"dcgan": worse | {"_provenance": {"profile": gans.PROFILE, "data_copy": {"description": "JPEG copy"}}}}
    )
    assert worse_claim.verdict == "not reproduced" and worse_claim.reason.startswith("higher than the source's by")
    assert worse_claim.reason.endswith("; trained and scored on the JPEG copy")
    assert f"± {se:.2f}" in claim.ours
    assert np.isnan(gans.chunk_standard_error({"final_chunks": [90.0]}))
    assert gans.margin_text(1.0, float("nan")) == "1.00"
    one_chunk = record | {"final_chunks": [80.0], "final_chunk_fid": 80.0}
    assert gans.fid_claims({"dcgan": one_chunk})[0].ours == f"80.00 (standard protocol {record['final_fid']:.2f})"


def test_generator_loads_fp16_weights_as_fp32_and_draws_images() -> None:
    cfg = replace(gans.REFERENCE_GANS["sagan"], width=8)
    G = gans.generator("sagan", _record("sagan", cfg), cfg.width)
    assert all(p.dtype == torch.float32 for p in G.parameters()) and not G.training
    with torch.no_grad():
        out = G(torch.randn(2, 100), torch.tensor([0, 1]))
    assert out.shape == (2, 3, 32, 32) and out.abs().max() <= 1


def test_chapter_runs_fall_back_to_the_quick_run_when_nothing_is_stored(tmp_artifacts, offline_data) -> None:
    runs = gans.chapter_runs("quick", lambda model: {"n_steps": 3, "model": model})
    assert {m: r["origin"] for m, r in runs.items()} == {"dcgan": "quick-fallback", "sagan": "quick-fallback"}
    assert gans.chapter_runs("full", lambda model: {"n_steps": 3})["sagan"]["origin"] == "full"


def test_chapter_runs_prefer_the_projection_sagan_then_the_source_design(tmp_artifacts, offline_data) -> None:
    """SAGAN: the projection reference when stored, else the stored concat (source-design) run, else quick."""
    from gancnn.book import cache

    source_cfg, projection_cfg = gans.SOURCE_DESIGN["sagan"], gans.REFERENCE_GANS["sagan"]
    assert (source_cfg.conditioning, projection_cfg.conditioning) == ("concat", "projection")
    assert gans.cache_config(source_cfg) != gans.cache_config(projection_cfg)
    cache.save("reference", "gan-sagan", gans.cache_config(source_cfg), {"n_steps": 1}, wall_time_s=1.0)
    runs = gans.chapter_runs("quick", lambda model: {"n_steps": 3})
    assert (runs["sagan"]["origin"], runs["sagan"]["conditioning"], runs["dcgan"]["origin"]) == (
        "reference",
        "concat",
        "quick-fallback",
    )
    cache.save("reference", "gan-sagan", gans.cache_config(projection_cfg), {"n_steps": 2}, wall_time_s=1.0)
    runs = gans.chapter_runs("quick", lambda model: {"n_steps": 3})
    assert (runs["sagan"]["conditioning"], runs["sagan"]["n_steps"]) == ("projection", 2)
    with pytest.raises(ValueError):
        replace(projection_cfg, conditioning="film")


def test_summary_and_table_read_the_stored_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    records = {m: _record(m, gans.REFERENCE_GANS[m]) for m in ("dcgan", "sagan")}
    for r in records.values():
        r.update(train_s=600.0, _provenance={"key": "k" * 16, "date": "2026-12-01T00:00:00", "device": "cpu"})
    monkeypatch.setattr(gans, "stored", lambda model, cfg=None: records[model] if model == "dcgan" else None)
    summary = gans.summary()
    assert set(summary) == {"dcgan"} and summary["dcgan"]["fid_chunk_mean"] == 120.0
    assert summary["dcgan"]["verdict"] == "worse than the source"
    if gans.REFERENCE_GANS["dcgan"].ema_decay:
        assert summary["dcgan"]["raw_g_first_chunk_fid"] == 130.0
    table = gans.reference_summary()
    assert summary["dcgan"]["train_step_s"] == 600.0
    assert table.loc["DCGAN", "chunk-mean FID"] == 120.0 and table.loc["SAGAN", "stored"].startswith("no")
    assert gans.verdict("sagan", 88.0) == "better than the source"


class _ClassPainter(torch.nn.Module):
    """A 'generator' that writes its class into the red channel's brightness: image value (c / 9) * 2 - 1."""

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        img = -torch.ones(len(z), 3, 32, 32)
        img[:, 0] = (y.float() / 9).view(-1, 1, 1) * 2 - 1
        return img


class _RedReader(torch.nn.Module):
    """A 'classifier' that reads the class back from the mean red value of a normalised image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from gancnn.adjoint.training import SOURCE_MEAN, SOURCE_STD

        red = x[:, 0].mean((1, 2)) * SOURCE_STD[0] + SOURCE_MEAN[0]  # back to [0, 1]
        cls = (red * 9).round().long().clamp(0, 9)
        return torch.nn.functional.one_hot(cls, 10).float()


def test_class_agreement_is_one_for_a_faithful_pair_and_chance_for_a_constant_classifier() -> None:
    agreement = gans.class_agreement(_ClassPainter(), _RedReader(), n_per_class=7, batch=16)
    np.testing.assert_array_equal(agreement, np.ones(10))

    class Constant(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.one_hot(torch.full((len(x),), 3), 10).float()

    constant = gans.class_agreement(_ClassPainter(), Constant(), n_per_class=5)
    assert constant[3] == 1.0 and constant.sum() == 1.0 and constant.mean() == pytest.approx(0.1)
    images = torch.stack([torch.full((3, 32, 32), 10 * c, dtype=torch.uint8) for c in range(10)])
    per_class = gans.per_class_accuracy(Constant(), images, torch.arange(10))
    assert per_class.tolist() == [0.0] * 3 + [1.0] + [0.0] * 6
    with pytest.raises(ValueError):
        gans.class_agreement(_ClassPainter(), Constant(), n_per_class=0)


def test_loss_turn_finds_a_rise_then_fall_and_not_a_steady_fall() -> None:
    step = np.arange(1, 12001, dtype=float)
    peaked = 1.0 - np.abs(step - 6000.0) / 6000.0  # rises to step 6000, then falls
    turn = gans.loss_turn(step, peaked, n_bins=12)
    assert turn["rises_then_falls"] and turn["peak_bin"] in (5, 6) and abs(turn["turn_step"] - 6000) <= 1000
    falling = gans.loss_turn(step, 2.0 - step / 12000.0, n_bins=12)
    assert not falling["rises_then_falls"] and falling["peak_bin"] == 0
    assert gans.binned_means(step, step, 4) == pytest.approx([1500.5, 4500.5, 7500.5, 10500.5])
