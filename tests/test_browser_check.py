"""The browser check finds each kind of defect on a planted page, with the page and the element named."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from gancnn.book.paths import project_root

SCRIPT = project_root() / "scripts" / "browser_check.py"
needs_browser = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() or importlib.util.find_spec("playwright") is None,
    reason="needs Chromium (apt-get install chromium) and playwright",
)

PLANTED = """<!doctype html><html><head><meta charset="utf-8">
<style>body{margin:0} main{width:950px} article{width:600px} img{max-width:100%}</style></head>
<body><main><article>
<p>fine text</p>
<table id="wide-table"><tr><td><div style="width:900px">a table wider than the column</div></td></tr></table>
<img id="pathy" src="missing.png" alt="../_images/missing.png">
<div class="output stderr" id="noise">Traceback (most recent call last)</div>
<div class="cell tag_full-width"><div class="cell_output" id="full" style="width:800px">a full-width output</div></div>
<p id="leak">as eq. (eq-adv-spread) shows, and eq. Eq. 3 again</p>
<img id="shrunk" src="wide.png" alt="A wide figure">
<img id="heavy" src="heavy.png" alt="A heavy figure" style="width:100px">
<div class="citation" id="cite-x"><span class="label">[UniversityoTCSC413cstaff22]</span> A course.</div>
</article></main></body></html>
"""


def write_png(path: Path, width: int, height: int, noise: bool = False) -> None:
    """A PNG of the given size (random pixels make it large and incompressible)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = (
        rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        if noise
        else np.full((height, width, 3), 200, np.uint8)
    )
    Image.fromarray(pixels).save(path)


def run(site: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The check on a site, at one width."""
    cmd = [sys.executable, str(SCRIPT), str(site), "--widths", "1280", "--shots", str(tmp_path / "shots")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@needs_browser
def test_planted_defects_are_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(PLANTED)
    write_png(site / "wide.png", 1500, 300)
    write_png(site / "heavy.png", 520, 520, noise=True)
    done = run(site, tmp_path)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "index.html @ 1280 px: wider than the column: table#wide-table" in out
    assert "index.html @ 1280 px: image not loaded: img#pathy" in out
    assert "index.html @ 1280 px: no real alt text: img#pathy" in out
    assert "index.html @ 1280 px: stderr or traceback in an output: div#noise" in out
    assert "index.html @ 1280 px: raw label in the text: p#leak (eq. (eq-adv-spread))" in out
    assert "index.html @ 1280 px: raw label in the text: p#leak (eq. Eq. 3)" in out
    assert "index.html @ 1280 px: figure shrunk: img#shrunk (drawn 1500 px, shown 600 px (40%))" in out
    assert "index.html @ 1280 px: heavy image: heavy.png" in out
    assert "index.html @ 1280 px: bibliography label is a key: span.label" in out
    assert "div#full" not in out  # a full-width cell may use the margin
    assert (tmp_path / "shots" / "index-1280.png").is_file()


@needs_browser
def test_a_clean_page_passes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<!doctype html><html><body><main><article><p>ok</p></article></main></body></html>"
    )
    done = run(site, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "browser check: 0 defects on 1 pages x 1 widths" in done.stdout


def test_a_missing_site_is_one_line(tmp_path: Path) -> None:
    done = run(tmp_path / "nowhere", tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
