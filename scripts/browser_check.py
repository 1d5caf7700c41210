"""Read the built site as a reader does: every page in headless Chromium at desktop and phone widths.

`python scripts/browser_check.py [_build/html] [--widths 1280 390] [--shots _build/screenshots]` opens every
page with Playwright (Chromium from the Debian packages, `/usr/bin/chromium`), and reports, with the page and the
element named: elements wider than the text column (display maths, figures, tables, code), MathJax errors,
images that failed to load or whose alt text is empty or a file path, console errors, and tracebacks or stderr
boxes in the outputs, figures drawn much wider than the column and shrunk on a desktop (their lettering
shrinks with them), cross-reference syntax or labels that reached the text, bibliography labels that are keys
rather than the author-year form, and images heavier than `MAX_IMAGE_KB`. It saves a full-page screenshot of
every page at every width and, with `--json`, the defects and each page's weight (HTML plus its images). Exit
code 1 when anything is found, 2 when Chromium or Playwright is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM = "/usr/bin/chromium"

PROBE = (Path(__file__).with_name("browser_probe.js")).read_text()  # runs in the page: the defects found
MAX_IMAGE_KB = 600  # a sample grid or figure heavier than this is a defect: the site should stay light
IMAGES = "() => [...new Set([...document.images].map(i => i.src))]"


def pages(site: Path) -> list[Path]:
    """Every HTML page of the book (not the search and index pages)."""
    skip = {"search.html", "genindex.html"}
    return sorted(p for p in site.rglob("*.html") if p.name not in skip and "_static" not in p.parts)


def local_file(url: str) -> Path | None:
    """The path of a file:// URL, or None for any other scheme."""
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def image_defects(rel: str, width: int, srcs: list[str]) -> tuple[list[dict], int]:
    """Images of one page heavier than MAX_IMAGE_KB, and the page's image bytes."""
    found, total = [], 0
    for src in srcs:
        path = local_file(src)
        if path is None or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        if size > MAX_IMAGE_KB * 1024:
            found.append(
                {
                    "page": rel,
                    "width": width,
                    "kind": "heavy image",
                    "element": path.name,
                    "detail": f"{size // 1024} KB",
                }
            )
    return found, total


def check(site: Path, widths: list[int], shots: Path, weights: dict[str, int] | None = None) -> list[dict]:
    """Open every page at every width; return the defects found (page, width, kind, element, detail) and fill
    `weights` with each page's bytes (HTML plus images)."""
    from playwright.sync_api import sync_playwright

    found: list[dict] = []
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width in widths:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
            for html in pages(site):
                errors.clear()
                rel = html.relative_to(site).as_posix()
                page.goto(html.resolve().as_uri(), wait_until="load")
                page.wait_for_timeout(800)  # MathJax typesets after load
                for defect in page.evaluate(PROBE):
                    found.append({"page": rel, "width": width, **defect})
                heavy, image_bytes = image_defects(rel, width, page.evaluate(IMAGES))
                if width == widths[0]:
                    found.extend(heavy)
                    if weights is not None:
                        weights[rel] = html.stat().st_size + image_bytes
                for text in errors:
                    found.append(
                        {"page": rel, "width": width, "kind": "console error", "element": "", "detail": text[:120]}
                    )
                page.screenshot(path=str(shots / f"{rel.replace('/', '_')[:-5]}-{width}.png"), full_page=True)
            page.close()
        browser.close()
    return found


def main(argv: list[str] | None = None) -> int:
    """Check the site; print one line per defect and a count per kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=Path("_build/html"))
    parser.add_argument("--widths", type=int, nargs="+", default=[1280, 390])
    parser.add_argument("--shots", type=Path, default=Path("_build/screenshots"))
    parser.add_argument("--json", type=Path, help="also write the defects to this file")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"browser check: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("browser check: playwright is not installed (pip install playwright)", file=sys.stderr)
        return 2
    if not (args.site / "index.html").exists():
        print(f"browser check: no built site at {args.site} (make book)", file=sys.stderr)
        return 2
    weights: dict[str, int] = {}
    found = check(args.site, args.widths, args.shots, weights)
    for d in found:
        print(f"{d['page']} @ {d['width']} px: {d['kind']}: {d['element']} ({d['detail']})")
    kinds: dict[str, int] = {}
    for d in found:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    print(f"browser check: {len(found)} defects on {len(pages(args.site))} pages x {len(args.widths)} widths: {kinds}")
    if args.json:
        args.json.write_text(json.dumps({"defects": found, "page_bytes": weights}, indent=1))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
