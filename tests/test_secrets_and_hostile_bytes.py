"""Secrets are never shown or saved (URL credentials, literal values of secret headers), and text from a plugin, a
service or a file is escaped for where it is written: terminal, Markdown, CSV, matplotlib's warnings."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from orchbench.support.redact import is_secret_name, redact_text, scrub
from tests.cli_here import cli_here
from tests.helpers import cli
from tests.own_service import OwnService

pytestmark = pytest.mark.adversarial("secrets and hostile bytes")

SECRETS = ("sk-SECRET", "sk-LITERAL", "tok-COOKIE")


@pytest.mark.parametrize(
    "text, shown",
    [
        ("http://user:sk-SECRET@host/", "http://user:***@host/"),
        ("POST https://u:p%40ss@h:8080/score?x=1 failed", "POST https://u:***@h:8080/score?x=1 failed"),
        ("headers=X-Api-Key=sk-1;Accept=json", "headers=X-Api-Key=***;Accept=json"),
        ("Authorization: Bearer abc.def", "Authorization: ***"),
        ("Cookie=session=abc", "Cookie=***=abc"),
        ("Authorization=Bearer $API_TOKEN", "Authorization=Bearer $API_TOKEN"),  # names the variable: kept
        ("X-Private-Token=${TOKEN}", "X-Private-Token=${TOKEN}"),
        ("concurrency=32 workers=2 http://host:80/", "concurrency=32 workers=2 http://host:80/"),
        ("--set 'x': expected KEY=VALUE", "--set 'x': expected KEY=VALUE"),  # a placeholder, not a secret
    ],
)
def test_secrets_in_text_are_masked_and_nothing_else(text, shown):
    assert redact_text(text) == shown


def test_secret_names_and_documents():
    assert all(map(is_secret_name, ["Authorization", "proxy-authorization", "Cookie", "X-Api-Key", "Private-Token"]))
    assert not any(map(is_secret_name, ["Accept", "Content-Type", "workers", "unit", "Author"]))
    document = {"spec": {"url": "http://a:b@h/", "Authorization": "Basic eA=="}, "output": ["http://a:b@h/"]}
    assert scrub(document) == {"spec": {"url": "http://a:***@h/", "Authorization": "***"}, "output": document["output"]}


def test_url_credentials_and_literal_secret_headers_are_never_shown_or_saved(tmp_path):
    lines = ["alpha", "beta", "always failing"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with OwnService(always_fail=("always failing",)) as service:
        url = service.url.replace("http://", "http://user:sk-SECRET@") + "/?key=tok-COOKIE"
        common = ("-w", "scoring", "--url", url, "-i", "in.txt", "--set", "headers=X-Api-Key=sk-LITERAL")
        common += ("--set", "retry.max_attempts=1")
        ran = [
            cli_here("run", "sequential", *common),
            cli_here("run", "sequential", *common, "--json"),
            cli_here("compare", "-s", "sequential", "-n", "1", "--warmup", "0", *common, "-o", "r.json", "--html"),
            cli_here("report", "r.json", "--format", "markdown"),
            cli_here("report", "r.json", "--format", "csv"),
        ]
    shown = "".join(r.out + r.err for r in ran)
    assert "always failing" in shown and "user:***@" in shown  # the failure and the masked URL are shown
    saved = (tmp_path / "r.json").read_text(encoding="utf-8") + (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "X-Api-Key=***" in saved and "user:***@" in saved
    for secret in SECRETS:
        assert secret not in shown and secret not in saved, secret


HOSTILE = """
import orchbench
from orchbench.strategies.sequential import Sequential


class Scripted(Sequential):
    name = "<script>alert(1)</script>"


class Formula(Sequential):
    name = "@SUM(1+1)*cmd"


class Kanji(Sequential):
    name = "kanji\\u6f22"  # a glyph matplotlib's default font lacks: it warns


class Escaped(Sequential):
    name = "escaped\\x1b[2J"


@orchbench.workload("hostile", items=lambda source: [1, 2], reduce=sum, reference=lambda items: 3,
                    unit="\\x1b]0;pwned\\x07words\\x1b[31m", cases={"small": "-"})
def one(item):
    return item


@orchbench.hookimpl
def orchbench_strategies():
    return [Scripted, Formula, Kanji, Escaped]


@orchbench.hookimpl
def orchbench_workloads():
    return [one]
"""


@pytest.fixture
def hostile(tmp_path: Path) -> str:
    (tmp_path / "hostile_plugin.py").write_text(HOSTILE, encoding="utf-8")
    return "hostile_plugin.py"


def test_a_workloads_unit_never_reaches_the_terminal_raw(hostile):
    ran = cli_here("run", "sequential", "-p", hostile, "-w", "hostile")
    assert ran.code == 0, ran
    assert "\x1b" not in ran.out + ran.err and "\x07" not in ran.out + ran.err
    assert "\\x1b]0;pwned\\x07words" in ran.out


def test_a_strategy_name_with_a_control_character_is_refused(hostile):
    listed = cli_here("list", "-p", hostile)
    assert listed.code == 1 and "\x1b" not in listed.out + listed.err
    problems = json.loads(cli_here("list", "--json", "-p", hostile).out)["problems"]
    assert any("'escaped\\x1b[2J' cannot be selected on the command line" in p["error"] for p in problems)


def test_markdown_csv_and_plots_escape_names_from_plugins(hostile, tmp_path):
    strategies = "<script>alert(1)</script>,@SUM(1+1)*cmd,kanji\u6f22"
    ran = cli_here("compare", "-p", hostile, "-w", "hostile", "-s", strategies, "-n", "1", "--warmup", "0",
                   "-o", "r.json", "--plot")  # fmt: skip
    assert ran.code == 0, ran
    assert "\x1b" not in ran.err and "UserWarning" not in ran.err  # matplotlib's warnings as one plain line each
    assert "orchbench: warning: Glyph 28450 (\\N{CJK UNIFIED IDEOGRAPH-6F22}) missing" in ran.err
    assert ran.err.count("Glyph 28450") == 1  # once, however many figures lack it
    markdown = cli_here("report", "r.json", "--format", "markdown", "-p", hostile).out
    assert "<script>" not in markdown and "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "\x1b" not in markdown
    table = cli_here("report", "r.json", "--format", "csv").out
    strategies_column = [row["strategy"] for row in csv.DictReader(io.StringIO(table))]
    assert "'@SUM(1+1)*cmd" in strategies_column and not any(
        s.startswith(("=", "+", "-", "@")) for s in strategies_column
    )
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["settings"]["workload"] == "hostile"


def test_a_plugins_text_is_shown_as_text_in_list_run_and_compare(tmp_path, monkeypatch):
    """Neither rich markup nor an emoji code in a plugin's description, or in its item's error, becomes something
    else on the terminal."""
    plugin = tmp_path / "wordy_plugin.py"
    plugin.write_text(
        "import orchbench\n\n"
        "@orchbench.workload('wordy', items=lambda source: [1, 2], reduce=sum,\n"
        "                    cases={'small': '-'}, description='fast :thumbs_up: and [bold]bold[/bold]')\n"
        "def wordy(item):\n"
        "    if item == 2:\n"
        "        raise ValueError('bad :fire: [red]two[/red]')\n"
        "    return item\n\n"
        "@orchbench.hookimpl\ndef orchbench_workloads():\n    return [wordy]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("COLUMNS", "300")  # each text on one line of its table
    listed = cli_here("list", "-p", str(plugin))
    assert listed.code == 0, listed
    assert "fast :thumbs_up: and [bold]bold[/bold]" in listed.out, listed.out
    ran = cli_here("run", "sequential", "-p", str(plugin), "-w", "wordy", "-r", "none")
    compared = cli_here("compare", "-s", "sequential", "-p", str(plugin), "-w", "wordy", "-r", "none", "-n", "1",
                        "--warmup", "0")  # fmt: skip
    for shown in (ran, compared):
        assert "ValueError: bad :fire: [red]two[/red]" in shown.out, shown
        assert "\N{FIRE}" not in shown.out


def test_debug_tracebacks_mask_secrets_too(tmp_path):
    """--debug shows the traceback, but a secret quoted in an error is masked there as in every other line."""
    plugin = tmp_path / "leaky_plugin.py"
    plugin.write_text(
        "import orchbench\n\n"
        "class Leaky(orchbench.Strategy):\n"
        "    name = 'leaky'\n\n"
        "    def map(self, task, items):\n"
        "        raise RuntimeError('refused: Authorization: Bearer sk-live-123 at http://u:pw-456@host/')\n\n"
        "@orchbench.hookimpl\ndef orchbench_strategies():\n    return [Leaky]\n",
        encoding="utf-8",
    )
    ran = cli("--debug", "run", "leaky", "-p", str(plugin), "-t", "small")  # the run's own process raises
    url = cli("--debug", "run", "sequential", "-w", "scoring", "--url", "http://u:pw-456@127.0.0.1:1/")  # this one
    for shown in (ran, url):
        assert "Traceback (most recent call last)" in shown.stderr, shown.stderr
        assert "sk-live-123" not in shown.stderr and "pw-456" not in shown.stderr, shown.stderr
    assert "Bearer ***" in ran.stderr or "Authorization: ***" in ran.stderr
    assert ran.returncode == 1 and url.returncode == 2
