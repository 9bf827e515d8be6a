"""The scoring workload's request options are checked before any work: one line naming the option, status 2. And a
header value may hold ``$VAR`` anywhere, read from the environment, never saved or shown."""

from __future__ import annotations

import json

import pytest

from orchbench.workloads.scoring.client import Protocol, parse_headers
from tests.cli_here import assert_one_clear_line, cli_here
from tests.helpers import cli
from tests.own_service import OwnService

NOBODY = "http://127.0.0.1:9"  # nothing listens there: a run that got past the checks would say "unreachable"


def run_with(*settings: str, url: str = NOBODY):
    args = ["run", "sequential", "-w", "scoring", "--url", url, "--test-case", "1k"]
    for setting in settings:
        args += ["--set", setting]
    return cli_here(*args)


@pytest.mark.adversarial("options accepted that cannot work")
@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("headers=Host=evil.example", ("headers: Host is set by orchbench",)),
        ("headers=Content-Length=5", ("headers: Content-Length is set by orchbench",)),
        ("headers=transfer-encoding=chunked", ("headers: transfer-encoding is set by orchbench",)),
        ("headers=X-Id=1;x-id=2", ("headers: x-id is given twice",)),
        ("headers=X\x01Id=1", ("headers:", "is not a header name")),
        ("headers=X Id=1", ("headers:", "is not a header name")),
        ("headers=X-Id=a\x1bb", ("headers: the value of X-Id holds a control character",)),
        ("path=v1/a b", ("path 'v1/a b' holds a space",)),
        ("path=v1/\nscore", ("path", "holds a control character")),
        ("score_field=", ("score_field must name a field",)),
        ("score_field=  ", ("score_field must name a field",)),
        ("body= ", ("body must be raw or the name of a JSON field",)),
    ],
)
def test_a_request_option_that_cannot_make_a_valid_request_is_one_line(setting, fragments):
    ran = run_with(setting)
    assert ran.code == 2
    assert_one_clear_line(ran, *fragments)


@pytest.mark.adversarial("options accepted that cannot work")
@pytest.mark.parametrize("url", [NOBODY + "/a b", NOBODY + "/a\nb", NOBODY + "/\tx", NOBODY + "/a\x7f"])
def test_a_url_with_a_space_or_a_control_character_is_one_line(url):
    ran = run_with(url=url)
    assert ran.code == 2
    assert_one_clear_line(ran, "--url", "percent-encode")


def test_request_options_are_checked_without_a_url_too():
    ran = cli_here("run", "sequential", "-w", "scoring", "--test-case", "1k", "--set", "headers=Host=x")
    assert ran.code == 2
    assert_one_clear_line(ran, "headers: Host is set by orchbench")


# --- $VAR anywhere in a header value -----------------------------------------------------------------------


def test_a_variable_is_expanded_anywhere_in_a_header_value():
    env = {"API_TOKEN": "s3cret", "REGION": "eu"}
    assert parse_headers("Authorization=Bearer $API_TOKEN;X-Where=${REGION}-1 costs $$5", env) == (
        ("Authorization", "Bearer s3cret"),
        ("X-Where", "eu-1 costs $5"),
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Authorization=Bearer $MISSING", "the environment variable MISSING (for Authorization) is not set"),
        ("Authorization=Bearer sk-literal", "give Authorization from an environment variable"),
        ("X-A=cost $5", "a $ in the value of X-A names no variable"),
        ("X-A=${BROKEN", "a $ in the value of X-A names no variable"),
    ],
)
def test_a_bad_variable_in_a_header_is_one_line(spec, message):
    with pytest.raises(ValueError, match="headers: ") as info:
        parse_headers(spec, {"API_TOKEN": "x"})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_expanded_value_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="control character"):
        parse_headers("X-A=pre $V", {"V": "a\r\nInjected: 1"})


def test_a_bearer_token_from_a_variable_reaches_the_service_and_is_never_saved(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("one\ntwo\nthree\n")
    saved = tmp_path / "c.json"
    with OwnService(token="tok-9f3a") as service:
        proc = cli(
            "compare",
            "-s",
            "sequential",
            "-w",
            "scoring",
            "--url",
            service.url,
            "--input",
            str(lines),
            "--set",
            "headers=Authorization=Bearer $API_TOKEN",
            "-n",
            "1",
            "--warmup",
            "0",
            "-o",
            str(saved),
            env={"API_TOKEN": "tok-9f3a"},
        )
    assert proc.returncode == 0, proc.stderr
    document = saved.read_text()
    assert "tok-9f3a" not in document + proc.stdout + proc.stderr
    assert "Bearer $API_TOKEN" in document  # the setting as given, so a rerun reads the variable again
    assert all(run["complete"] for run in json.loads(document)["runs"])


def test_the_protocol_keeps_both_query_strings():
    protocol = Protocol(path="/v1/score?mode=fast")
    assert protocol.target("http://h:1/api/?key=k") == "http://h:1/api/v1/score?key=k&mode=fast"
    assert Protocol().target("http://h:1?key=k") == "http://h:1/?key=k"
