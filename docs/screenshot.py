"""Render an orchbench HTML report in headless Chromium, with the network blocked, and save a PNG screenshot.

    python docs/screenshot.py results/compare-….json docs/img/report.png    # a results file: renders it first
    python docs/screenshot.py report.html docs/img/report.png --height 1400

A real browser checks what the tests cannot: that the page lays out and its embedded plots decode. With every
host name unresolvable, anything the page tried to fetch from outside would be missing from the picture. Needs
Chromium (Debian: ``apt-get install chromium``). The test suite lays the report out in the same browser at a
phone's width (``tests/test_html_phone.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser(given: str | None) -> str:
    for name in (given,) if given else BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(
        f"screenshot: no Chromium found (tried {', '.join((given,) if given else BROWSERS)}); "
        "install it (Debian: apt-get install chromium) or pass --browser"
    )


def html_of(source: Path, scratch: Path) -> Path:
    """The page to render: ``source`` itself, or the report of a results file written into ``scratch``."""
    if source.suffix == ".html":
        return source
    page = scratch / "report.html"
    subprocess.run(
        [sys.executable, "-m", "orchbench", "report", str(source), "--format", "html", "-o", str(page)], check=True
    )
    return page


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"screenshot: {path} is not a PNG")
    return struct.unpack(">II", header[16:24])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an HTML report, or a results file to render as one")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=1300, help="the top of the page this tall is captured")
    parser.add_argument("--browser", help="the Chromium executable (default: the first found on PATH)")
    args = parser.parse_args()
    browser = find_browser(args.browser)
    with tempfile.TemporaryDirectory(prefix="orchbench-screenshot-") as scratch:
        page = html_of(args.source, Path(scratch))
        args.png.parent.mkdir(parents=True, exist_ok=True)
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={scratch}/profile",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--window-size={args.width},{args.height}",
            "--virtual-time-budget=3000",
            f"--screenshot={args.png.resolve()}",
            page.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to sandbox itself as root
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not args.png.exists():
            sys.exit(f"screenshot: {browser} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    width, height = png_size(args.png)
    print(f"screenshot: {args.png} ({width} × {height}, {args.png.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
