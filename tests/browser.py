"""A real headless Chromium laying a page out at a given width, for tests of what a person sees."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# The page goes into an iframe of the given width (its viewport, as a phone's screen), by srcdoc so the outer page
# may read its layout; what it reads is written into the outer page, which Chromium prints with --dump-dom.
MEASURE = """
const frame = document.getElementById("page");
frame.addEventListener("load", () => {
  const doc = frame.contentDocument, root = doc.documentElement;
  const images = Array.from(doc.images).map(i => ({shown: i.getBoundingClientRect().width, natural: i.naturalWidth}));
  const wider = Array.from(doc.querySelectorAll("body *"))
    .filter(e => e.getBoundingClientRect().right > root.clientWidth + 0.5 && !e.closest(".scroll"))
    .map(e => e.tagName.toLowerCase() + ": " + e.textContent.slice(0, 40));
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, images, wider});
  document.body.appendChild(out);
});
"""


def browser() -> str | None:
    """The Chromium executable on PATH, if any."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def layout(page: str, width: int, timeout: float = 120) -> dict:
    """How ``page`` lays out in a viewport ``width`` CSS pixels wide: the document's scrollWidth and clientWidth,
    each image's shown and natural width, and the elements (outside a scrolling box) that reach past the screen."""
    executable = browser()
    assert executable is not None, "no Chromium"
    outer = (
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="page" style="width:{width}px;height:900px;border:0" srcdoc="{html.escape(page)}"></iframe>'
        f"<script>{MEASURE}</script></body></html>"
    )
    with tempfile.TemporaryDirectory(prefix="orchbench-browser-") as scratch:
        source = Path(scratch) / "outer.html"
        source.write_text(outer, encoding="utf-8")
        done = subprocess.run(
            [
                executable,
                "--headless",
                "--no-sandbox",  # as root, as CI runs
                "--disable-gpu",
                f"--user-data-dir={scratch}/profile",
                "--host-resolver-rules=MAP * ~NOTFOUND",  # the page must need nothing from outside
                "--virtual-time-budget=10000",
                "--dump-dom",
                source.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    found = re.search(r'<pre id="layout">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(html.unescape(found[1]))
