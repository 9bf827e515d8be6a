"""The HTML report on a phone: laid out by a real headless Chromium at 375 CSS pixels, the page never scrolls
sideways (tables may scroll inside themselves), and the plots are the ones drawn for a narrow screen."""

from __future__ import annotations

import pytest

from orchbench.results.figures import build_report
from orchbench.views.html import to_html
from tests.browser import browser, layout
from tests.test_report import _broken_round_two, _document

pytestmark = pytest.mark.skipif(
    browser() is None, reason="no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)"
)

PHONE = 375


def _page() -> str:
    walls = {
        "sequential": [4.0, 4.4, 4.1, 4.3],
        "original-design": [1.0, 1.2, 0.9, 1.1],
        "broken": [0.5, 0.6, 0.4, 0.55],
    }
    document = _document(walls, _broken_round_two)
    document["environment"] |= {  # the long strings of a real machine: none may widen the page
        "platform": "Linux-6.18.44-fc-v1300-x86_64-with-glibc2.36-and-a-much-longer-suffix",
        "git_commit": "8d7f80f227545a420763d59708095b973802e53c8d7f80f227545a420763d597",
        "packages": {f"package-with-a-long-name-{i}": "1.2.3.dev456+g0123456789abcdef" for i in range(12)},
    }
    return to_html(build_report(document), [document])


def test_the_report_reads_on_a_375_px_screen_without_sideways_scrolling():
    seen = layout(_page(), PHONE)
    assert seen["scrollWidth"] <= seen["clientWidth"] <= PHONE, seen["wider"]
    assert not seen["wider"]
    assert seen["images"], "the plots are there"
    for image in seen["images"]:
        assert image["shown"] <= seen["clientWidth"]
        assert image["natural"] < 2 * PHONE  # drawn for a narrow screen: shown near its own size, text readable
        assert image["shown"] >= 0.75 * image["natural"]


def test_a_wide_screen_shows_the_wide_plots():
    seen = layout(_page(), 1100)
    assert seen["scrollWidth"] <= seen["clientWidth"]
    assert all(image["natural"] > 900 for image in seen["images"])
