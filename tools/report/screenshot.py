#!/usr/bin/env python3
"""Render a `kataribe compare` HTML report to PNG at a laptop and a phone width.

    python3 tools/report/screenshot.py out/report.html [--out-dir DIR] [--widths 1366,390]
                                       [--chromium /usr/bin/chromium] [--strict]

For each width it writes REPORT-WIDTH.png (the full page) and prints whether the page scrolls
sideways and which fonts Chromium actually drew the Japanese text with, so a person can check the
report's font stack, continuation prompts, load-failure banners and layout (see
Sources/KataribeCompare/Reports/HTMLReport.swift) without a desktop browser.

Needs the `playwright` Python package and a Chromium: Playwright's own (`python3 -m playwright
install chromium`) or a system one given with --chromium or $CHROMIUM. When either is missing it
says so and exits 0 (a skip, not a failure). Requests for anything but the report file itself are
blocked and reported, since the page must be self-contained.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys

# Viewport heights only matter for the first screen; the PNGs are full-page.
HEIGHTS = {1366: 768, 390: 844}


def skip(message: str) -> None:
    print(f"screenshot.py: SKIPPED: {message}", file=sys.stderr)
    sys.exit(0)


def find_chromium(explicit: str | None) -> str | None:
    """A system Chromium to use instead of Playwright's download, if one is named or on PATH."""
    if explicit:
        return explicit
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def platform_fonts(page, selector: str) -> list[str]:
    """Fonts Chromium used for the text of the first element matching `selector` (via DevTools)."""
    try:
        session = page.context.new_cdp_session(page)
        session.send("DOM.enable")
        session.send("CSS.enable")
        root = session.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            return []
        fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return [f"{f['familyName']} ({f['glyphCount']} glyphs)" for f in fonts]
    except Exception as error:  # DevTools details differ between versions: report, don't fail
        return [f"(could not ask Chromium: {error})"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=pathlib.Path, help="the report.html to render")
    parser.add_argument("--out-dir", type=pathlib.Path, help="where the PNGs go (default: next to the report)")
    parser.add_argument("--widths", default="1366,390", help="comma-separated viewport widths in CSS pixels")
    parser.add_argument("--chromium", help="a Chromium/Chrome executable to use instead of Playwright's")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a width scrolls sideways or the page requests anything")
    args = parser.parse_args()

    report = args.report.resolve()
    if not report.is_file():
        print(f"screenshot.py: {args.report}: no such file", file=sys.stderr)
        return 2
    try:
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
    except ValueError:
        print(f"screenshot.py: --widths {args.widths!r}: expected numbers such as 1366,390", file=sys.stderr)
        return 2
    out_dir = (args.out_dir or report.parent).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip("the Python package `playwright` is not installed "
             "(pip install playwright; then python3 -m playwright install chromium, or pass --chromium PATH)")

    problems = 0
    with sync_playwright() as p:
        executable = find_chromium(args.chromium)
        try:
            browser = p.chromium.launch(headless=True, executable_path=executable) if executable \
                else p.chromium.launch(headless=True)
        except PlaywrightError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            skip(f"cannot start Chromium ({first}); run `python3 -m playwright install chromium` "
                 "or pass --chromium PATH")
        print(f"Chromium {browser.version}" + (f" ({executable})" if executable else " (Playwright's)"))
        for width in widths:
            page = browser.new_page(viewport={"width": width, "height": HEIGHTS.get(width, 900)})
            blocked: list[str] = []

            def route(r, blocked=blocked):
                if r.request.url.startswith("file:"):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(report.as_uri(), wait_until="load")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            client_width = page.evaluate("document.documentElement.clientWidth")
            png = out_dir / f"{report.stem}-{width}.png"
            page.screenshot(path=str(png), full_page=True)

            print(f"\n{width}px: {png}")
            if scroll_width > client_width:
                problems += 1
                print(f"  WARNING: the page scrolls sideways ({scroll_width}px of content in {client_width}px)")
            else:
                print("  no horizontal scrolling")
            for label, selector in (("title", "h1"), ("model output", ".grid td .out"), ("prompt", ".grid .prompt")):
                fonts = platform_fonts(page, selector)
                if fonts:
                    print(f"  fonts of the {label}: {', '.join(fonts)}")
            if blocked:
                problems += 1
                print(f"  WARNING: the page asked for {len(blocked)} outside resource(s): {', '.join(blocked[:5])}")
            page.close()
        browser.close()
    print("\nLook for tofu (empty boxes) in the Japanese text, the grey プロンプト part before each continuation, "
          "one red banner per model that failed to load, and, at 390px, one block per prompt with each cell under its model's name.")
    return 1 if problems and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
