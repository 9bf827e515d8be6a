"""The HTML report: one page that parses, holds the table's values, embeds its plots and needs nothing outside."""

from __future__ import annotations

import base64
from html import unescape
from html.parser import HTMLParser

from orchbench.cli.app import expand_multi_values
from orchbench.results.document import save
from orchbench.results.figures import build_report
from orchbench.views.columns import columns
from orchbench.views.html import to_html
from tests.cli_here import assert_one_clear_line, cli_here
from tests.test_report import WALLS, _broken_round_two, _document

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "wbr", "area", "base", "embed", "track"}
LINKING = {"href", "src", "srcset", "action", "formaction", "poster", "data", "background", "cite", "manifest"}


class Page(HTMLParser):
    """The elements of a page, checked to nest properly, its text, and every attribute that could link out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.text: list[str] = []
        self.links: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self._cell: list[str] | None = None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [(tag, name, value or "") for name, value in attrs if name in LINKING or name == "style"]
        if tag not in VOID:
            self.open.append(tag)
        if tag in {"td", "th"}:
            self._cell = []
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()
        if tag in {"td", "th"} and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None
        self._in_style = False

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._in_style:
            self.styles.append(data)


def _page(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert page.open == [], f"unclosed elements: {page.open}"
    return page


def _quick_page(document) -> Page:
    """The page without its plots (drawing them is the slow part, checked once above)."""
    return _page(to_html(build_report(document), [document], plots=False))


def _report_page(tmp_path, document) -> tuple[str, Page]:
    source = save(tmp_path / "c.json", document)
    out = tmp_path / "report.html"
    ran = cli_here("report", str(source), "--format", "html", "-o", str(out))
    assert ran.code == 0, ran
    html = out.read_text(encoding="utf-8")
    return html, _page(html)


def test_the_page_holds_the_table_plots_and_environment_and_nothing_from_outside(tmp_path):
    document = _document(WALLS, _broken_round_two)
    html, page = _report_page(tmp_path, document)
    assert html.startswith("<!DOCTYPE html>")
    report = build_report(document)
    for column in columns(report):
        assert column.header in page.cells
        for cell in column.cells:
            assert cell in page.cells  # every value of every column, as a cell of its own
    text = " ".join(page.text)
    assert "workload anagrams · case medium · scenario fast · Test CPU, 8 cores" in text
    assert "broken: 4 of 5 correct (1 incomplete)" in text and "Winner: threads." in text
    assert "Too few runs" not in text and "Not ranked, some runs wrong, incomplete or failed: broken." in text

    images = [value for tag, name, value in page.links if tag == "img" and name == "src"]
    assert len(images) >= 2  # wall time and throughput, memory when measured
    for src in images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix) and base64.b64decode(src[len(prefix) :]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(page.tags)
    for tag, name, value in page.links:
        assert value.startswith(("data:", "#")) or (name == "style" and "url(" not in value), (tag, name, value)
    assert "url(" not in "".join(page.styles) and "@import" not in "".join(page.styles)


def test_text_from_the_results_file_is_escaped():
    evil = '<script>alert("x")</script><img src=http://example.com/x.png>'
    document = _document({"sequential": [4.0, 4.4, 4.1], "threads": [1.0, 1.2, 0.9]})
    document["environment"]["cpu_model"] = evil
    for record in document["runs"]:
        record["label"] = record["spec"]["strategy"] = evil if record["spec"]["strategy"] == "threads" else "sequential"
    for slot in document["order"]:
        slot["strategy"] = evil if slot["strategy"] == "threads" else slot["strategy"]
    page = _quick_page(document)
    assert "script" not in page.tags and "example.com" not in " ".join(v for _, _, v in page.links)
    assert evil in " ".join(page.text) and evil in [unescape(c).split(" (")[0] for c in page.cells]


def test_output_needs_an_export_format_and_a_bare_html_flag_means_beside_the_results(tmp_path):
    source = save(tmp_path / "c.json", _document({"sequential": [4.0, 4.4, 4.1], "threads": [1.0, 1.2, 0.9]}))
    assert_one_clear_line(cli_here("report", str(source), "-o", str(tmp_path / "t.txt")), "--output", "--format")
    assert not (tmp_path / "t.txt").exists()
    ran = cli_here("report", str(source), "--format", "markdown", "-o", str(tmp_path / "r.md"))
    assert ran.code == 0 and ran.out == "" and "| threads (winner) |" in (tmp_path / "r.md").read_text()
    assert expand_multi_values(["compare", "--html", "-n", "3"]) == ["compare", "--html", "", "-n", "3"]
    assert expand_multi_values(["compare", "--html"]) == ["compare", "--html", ""]
    assert expand_multi_values(["compare", "--html", "out.html"]) == ["compare", "--html", "out.html"]


def test_unverified_runs_and_the_agreement_across_strategies_are_stated():
    document = _document({"sequential": [4.0, 4.4, 4.1], "threads": [1.0, 1.2, 0.9]}, lambda s, r: {"correct": None})
    document["settings"]["agreement"] = {"summary": "all 6 complete outputs are equal"}
    page = _quick_page(document)
    text = " ".join(page.text)
    assert "6 of 6 runs are unverified" in text and "equal to the reference" not in text
    assert "Agreement across strategies: all 6 complete outputs are equal." in text
