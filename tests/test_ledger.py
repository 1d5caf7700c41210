"""The claims ledger: chapters record claims, the results page reads them back and counts verdicts."""

from __future__ import annotations

import pytest

from gancnn.book import ledger


def claim(verdict: str = "reproduced", source: str = "wan2022dissertation", anchor: str = "sec-a") -> ledger.Claim:
    """A small valid claim."""
    return ledger.Claim(
        source, "table 2.1", "VGG7 reaches <85.6%>", "85.6%", "83.6%", "reference", verdict, "why", anchor
    )


def test_record_and_load_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANCNN_LEDGER", str(tmp_path))
    table = ledger.record("adjoint-v1", [claim(), claim("not reproduced")])
    ledger.record("dcgan-sagan", [claim("corrected", "cse676project")])
    assert list(table["verdict"]) == ["reproduced", "not reproduced"]
    entries = ledger.load_all()
    assert [chapter for chapter, _ in entries] == ["adjoint-v1", "adjoint-v1", "dcgan-sagan"]
    assert entries[0][1] == claim()
    assert ledger.counts(entries) == {
        "reproduced": 1,
        "reproduced within tolerance": 0,
        "not reproduced": 1,
        "corrected": 1,
        "not testable here": 0,
    }
    assert not list(tmp_path.glob(".*")), "a temporary file was left behind"


def test_rerecording_a_chapter_replaces_its_claims(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANCNN_LEDGER", str(tmp_path))
    ledger.record("gmm-equivalence", [claim(), claim()])
    ledger.record("gmm-equivalence", [claim("corrected")])
    assert [c.verdict for _, c in ledger.load_all()] == ["corrected"]


def test_unknown_verdict_and_empty_claim_are_refused() -> None:
    with pytest.raises(ValueError, match="verdict"):
        claim("roughly")
    with pytest.raises(ValueError, match="claim"):
        ledger.Claim("src", "s", " ", "", "", "", "reproduced", "")


def test_within_tolerance() -> None:
    assert ledger.within(91.0, 90.3, 1.0) == "reproduced"
    assert ledger.within(89.5, 90.3, 1.0) == "reproduced within tolerance"
    assert ledger.within(88.0, 90.3, 1.0) == "not reproduced"


def test_html_table_escapes_and_links_to_the_section() -> None:
    html = ledger.html_table([("adjoint-v1", claim())])
    assert 'href="adjoint-v1.html#sec-a"' in html
    assert "&lt;85.6%&gt;" in html and "<85.6%>" not in html
    assert 'class="sortable ledger docutils"' in html
    assert html.count("<tr>") == 2


def test_accuracy_claims_follow_the_one_point_rule() -> None:
    from gancnn.reference import classifiers

    def rec(acc: float, origin: str = "reference") -> dict:
        return {
            "test_acc": acc,
            "source_test_acc": 90.3,
            "origin": origin,
            "n_test_images": 10000,
            "n_steps": 20,
            "data_copy": "jpeg-q75",
            "_provenance": {"config": {"epochs": 30, "optimizer": "sgd"}},
        }

    claims = classifiers.accuracy_claims(
        {
            "fixup-resnet20": rec(90.5),
            "vgg7": rec(89.4),
            "vgg7-bn": rec(80.0),
            "resnet20-bn": rec(50.0, "quick-fallback"),
        }
    )
    assert [c.verdict for c in claims] == [
        "reproduced",
        "reproduced within tolerance",
        "not reproduced",
        "not testable here",
    ]
    assert claims[0].section == "table 2.1" and claims[2].section == "table 3.1"
    assert claims[1].ours == "89.40%" and claims[1].source_figure == "90.3%"


def test_fid_claims_compare_the_chunk_mean() -> None:
    from gancnn.reference import gans

    def rec(chunk: float, profile: str = "reference") -> dict:
        return {
            "final_chunk_fid": chunk,
            "final_fid": chunk - 30,
            "n_steps": 15000,
            "final_chunks": [chunk] * 9,
            "_provenance": {"profile": profile},
        }

    better, worse, quick = (
        gans.fid_claims({"dcgan": rec(80.0)})[0],
        gans.fid_claims({"sagan": rec(111.6)})[0],
        gans.fid_claims({"sagan": rec(300.0, "quick")})[0],
    )
    assert (better.verdict, worse.verdict, quick.verdict) == ("reproduced", "not reproduced", "not testable here")
    assert worse.source_figure == f"{gans.SOURCE_CHUNK_FID['sagan']:g}"


def test_colourisation_claims() -> None:
    from gancnn.reference import colourization

    runs = {
        "PoolUpsampleNet": {"val_acc": [0.30, 0.404], "val_loss": [2.0, 1.59]},
        "ConvTransposeNet": {"val_acc": [0.40, 0.546], "val_loss": [1.5, 1.15]},
    }
    claims = colourization.ledger_claims(runs, scale="25 epochs")
    assert [c.verdict for c in claims] == ["reproduced within tolerance", "reproduced within tolerance", "reproduced"]
    runs["ConvTransposeNet"] = {"val_acc": [0.2], "val_loss": [2.2]}
    assert colourization.ledger_claims(runs, scale="x")[-1].verdict == "not reproduced"


def test_cells_carry_their_column_and_the_summary_counts() -> None:
    entries = [("adjoint-v1", claim()), ("dcgan-sagan", claim("corrected", "cse676project"))]
    html = ledger.html_table(entries)
    assert 'data-label="verdict"' in html and 'class="verdict verdict-corrected"' in html
    summary = ledger.summary_html(entries)
    assert summary.count("<tr>") == 4  # header, two sources, all sources
    assert "<td>all sources</td><td>1</td><td>0</td><td>0</td><td>1</td><td>0</td><td>2</td>" in summary


def test_recorded_table_shows_a_long_claim_whole(tmp_path, monkeypatch) -> None:
    """The table a chapter displays keeps a 200-character claim whole in HTML (pandas cuts at 50 by default)."""
    monkeypatch.setenv("GANCNN_LEDGER", str(tmp_path))
    text = ("The basic iterative method fools each network " * 5)[:199] + "!"
    long = ledger.Claim("src", "s", text, "", "", "", "reproduced", "r" * 120)
    table = ledger.record("adversarial", [long, claim()])
    assert len(text) == 200 and text in table._repr_html_() and "r" * 120 in table._repr_html_()
    assert "..." not in table._repr_html_() and "…" not in table._repr_html_()
    assert isinstance(table["claim"].iloc[0], str) and table["claim"].iloc[0] == text
    assert "wan2022dissertation" in repr(table)  # the text repr stays the ordinary DataFrame one
    assert table._repr_html_() == ledger.html_table([("adversarial", long), ("adversarial", claim())])
    plain = ledger.ClaimsTable({"claim": [text]})  # no claims attached: pandas' own HTML, uncut
    assert text in plain._repr_html_() and "<table" in plain._repr_html_() and "data-label" not in plain._repr_html_()
