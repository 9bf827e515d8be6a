"""The line-scoring workload: POST every line of a text to a scoring server, as the original scoring service did;
the output is the sum.

Input: a generated corpus (case) or a UTF-8 file; items: its lines, blank ones included. Every line costs one
request (duplicates run once when the harness memoises by ``item_key``), except that blank lines are not sent to
the embedded server, which scores them 0 by definition (see ``scores``; ``send_blank`` decides). The server —
embedded, started on loopback for the run with the run's scenario and seed, or an external one given by ``url`` —
supplies the latency and the faults, so the harness adds none of its own by default (``score_line`` has a zero
task profile, marked idempotent, so that ``--fault-rate``, ``--hang-rate`` and ``--crash-rate`` can still put the
harness's faults on top). The client speaks the original protocol by default (the raw line POSTed to the URL,
``{"score": N}`` back); ``path``, ``body``, ``score_field`` and ``headers`` adapt it to another service.

The reference sums ``score_line`` locally, without a server; an external service's score function is unknown, so
a run against a URL has no reference of its own (its verdict is *unverified* unless one is recorded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from orchbench import Option, TaskProfile, TransientError, UsageError, Workload, did_you_mean
from orchbench.workloads.scoring.corpus import CASE_HELP, case_corpus
from orchbench.workloads.scoring.scores import is_blank, score_line, split_lines
from orchbench.workloads.scoring.wire import DEFAULT_CONNECTIONS

if TYPE_CHECKING:
    from orchbench import ResourceCache, RunSpec
    from orchbench.workloads.scoring.client import Protocol
    from orchbench.workloads.scoring.model import ServerConfig

# The server's modules are imported only when needed (the model's SCENARIOS hold the configurations described
# here); `limit_s` needs only the model, never aiohttp.
SCENARIO_HELP: dict[str, str] = {
    "original": "the original scoring server: ~4.15 s mean latency, capacity 2048, a few % faults",
    "default": "50 ms median latency, capacity 256, a few % faults (429/503/500, drops, malformed bodies)",
    "none": "no latency, no faults, unlimited capacity",
}

_MAX_ATTEMPTS_FOR_LIMIT = 1000

_SERVER_OPTIONS: dict[str, Option] = {
    "capacity": Option(int, None, "embedded server: requests in flight before it answers 429 (0: unlimited)", min=0),
    "latency_median": Option(float, None, "embedded server: median latency in seconds", min=0, duration=True),
    "latency_sigma": Option(float, None, "embedded server: lognormal shape of the latency", min=0),
    "slow_rate": Option(float, None, "embedded server: share of very slow answers", min=0, max=1),
    "slow_latency": Option(
        float, None, "embedded server: latency of a very slow answer, in seconds", min=0, duration=True
    ),
    "retry_after": Option(
        float, None, "embedded server: seconds its 429 and 503 answers ask to wait", min=0, duration=True
    ),
    "rate_503": Option(float, None, "embedded server: share of 503 answers", min=0, max=1),
    "rate_500": Option(float, None, "embedded server: share of 500 answers", min=0, max=1),
    "drop_rate": Option(float, None, "embedded server: share of connections closed without answer", min=0, max=1),
    "malformed_rate": Option(float, None, "embedded server: share of malformed 200 bodies", min=0, max=1),
    "hang_rate": Option(
        float,
        None,
        "embedded server: share of requests never answered (1: a server that accepts and never answers)",
        min=0,
        max=1,
    ),
    "die_after": Option(
        int, None, "embedded server: kill itself when the N-th score request arrives, and stay dead (0: never)", min=0
    ),
}


class ScoringWorkload(Workload):
    name = "scoring"
    description = "POST every line to a scoring HTTP server, sum the scores (map-reduce)"
    unit = "lines"
    cases = CASE_HELP
    default_case = "1k"
    scenarios = SCENARIO_HELP
    default_scenario = "default"
    renamed = {"seed": "original"}
    options = {
        "url": Option(str, None, "score against this server instead of the embedded one", flag="--url"),
        **_SERVER_OPTIONS,
        "connections": Option(
            int,
            0,
            f"HTTP connections per process (0: what the strategy runs at once per process, at least "
            f"{DEFAULT_CONNECTIONS} and the service's capacity)",
            min=0,
        ),
        "http_timeout": Option(
            float, 60.0, "seconds a request may take before it counts as failed", min=0.001, duration=True
        ),
        "aiohttp": Option(
            bool, False, "async strategies send with aiohttp instead of the built-in keep-alive HTTP/1.1 client"
        ),
        "path": Option(str, "", "path appended to the server's URL for every request (default: the URL itself)"),
        "body": Option(
            str, "raw", "request body: raw (the line's UTF-8 bytes) or the name of a JSON field holding the line"
        ),
        "score_field": Option(str, "score", "field of the JSON answer that holds the score"),
        "headers": Option(
            str,
            "",
            "extra request headers, NAME=VALUE;NAME=$VARIABLE (a secret such as "
            "Authorization only as $VARIABLE, read from the environment)",
        ),
        "send_blank": Option(
            bool,
            None,
            "send blank lines to the server (default: yes to a URL; the embedded "
            "server scores them 0, so they are not sent)",
        ),
        "service_capacity": Option(
            int,
            0,
            "requests the service handles at once, for the strategies' default "
            f"sizing (0: the embedded server's capacity, {DEFAULT_CONNECTIONS} for "
            "a URL)",
            min=0,
        ),
    }
    map_task = "score_line"
    transient_errors = (TransientError,)
    items_wait = True  # a line's time is the service's answer, wherever the service is
    answer_options = ("path", "body", "score_field", "send_blank")

    def __init__(self, spec: RunSpec, resources: ResourceCache) -> None:
        super().__init__(spec, resources)
        url = self.options["url"]
        if url is not None:
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 -- a port that is not a number raises here
            except ValueError as exc:  # "http://[::1" (an unclosed IPv6 bracket), "http://host:port"
                raise UsageError(f"--url {url!r} is not a valid URL ({exc})") from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageError(f"--url {url!r} is not an http:// or https:// URL with a host")
            if spec.scenario not in (None, "none", self.default_scenario):  # one that sets latencies and faults
                raise UsageError(
                    f"--scenario {spec.scenario} sets the embedded server's latencies and faults; "
                    "a service given by --url has its own"
                )
            given = [key for key in _SERVER_OPTIONS if self.options[key] is not None]
            if given:
                raise UsageError(
                    f"workload 'scoring': {given[0]} is an option of the embedded server, which does not run with --url"
                )
        if self.options["send_blank"] is None:
            self.options["send_blank"] = url is not None
        self._protocol: Protocol | None = None
        self.protocol()  # every request option checked here, in the parent, before any work (one line)
        self._server: Any = None
        self._final_stats: dict[str, Any] | None = None
        self._stats_before: dict[str, Any] | None = None
        self._stats_before_note: str | None = None
        self._connections_per_process: int | None = None
        self._async_client: Any = None
        self._server_cpu_at_start: float | None = (
            None  # the last event loop's client, to skip the lookup on every request
        )

    # -- the server ------------------------------------------------------------------------------------------

    def server_config(self) -> ServerConfig:
        """The embedded server's configuration: the scenario, the run's seed, the overrides and latency scale."""
        from orchbench.workloads.scoring.model import SCENARIOS

        scenario = self.spec.scenario or self.default_scenario
        if scenario not in SCENARIOS:
            raise UsageError(f"workload 'scoring' has no scenario {scenario!r} (scenarios: {', '.join(SCENARIOS)})")
        overrides = {key: self.options[key] for key in _SERVER_OPTIONS}
        config = SCENARIOS[scenario].with_overrides(seed=self.spec.seed, **overrides)
        if self.spec.latency_scale is not None:
            if self.spec.latency_scale < 0:
                raise UsageError(f"--latency-scale must not be negative, not {self.spec.latency_scale:g}")
            config = config.scaled(self.spec.latency_scale)
        try:
            return config.validate()
        except ValueError as exc:
            raise UsageError(f"workload 'scoring': {exc}") from None

    @property
    def external(self) -> bool:
        """Scoring against a service given by its URL (not the embedded server)."""
        return self.options["url"] is not None

    @property
    def url(self) -> str:
        """The server's URL: the one given, the one this instance started, or (in a worker) the one the run's
        process started (``spec.started``)."""
        url = self._server.url if self._server is not None else self.options["url"]
        url = url or self.spec.started.get("url")
        if not url:
            raise RuntimeError("the scoring workload has no server: call start() first or give a url")
        return url

    @classmethod
    def service_host(cls, options: Mapping[str, Any]) -> str | None:
        """The host (and port) of the server given by ``url``, never its credentials; None for the embedded one."""
        url = options.get("url")
        if not isinstance(url, str) or not url:
            return None
        return (urlsplit(url).netloc or url).rpartition("@")[2]

    def service_pids(self) -> list[int]:
        """The embedded server is the remote API, not part of the work measured."""
        return [self._server.pid] if self._server is not None and self._server.pid else []

    def start(self) -> dict[str, Any]:
        from orchbench.workloads.scoring.process import ServerProcess

        if self.external:
            from orchbench.workloads.scoring import service_stats

            self.protocol()  # a bad header spec or a missing variable: one line, before any request
            _check_reachable(self.options["url"])
            # counters of a service that runs on between runs: this run's are the difference (see stats())
            self._stats_before, self._stats_before_note = service_stats.read(self.options["url"])
            return {}
        self._server = ServerProcess(self.spec.scenario or self.default_scenario, config=self.server_config())
        url = self._server.start()
        try:  # its start-up's CPU, to tell apart from the run's (stats() gives both)
            self._server_cpu_at_start = float(self._server.stats()["cpu_s"])
        except (OSError, ValueError, KeyError, TypeError):
            self._server_cpu_at_start = None
        return {"url": url}

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._final_stats = self._with_start(_without_config(self._server.stats()))
            except (OSError, ValueError, RuntimeError):
                pass
            self._server.stop()
            self._server = None

    def stats(self) -> dict[str, Any]:
        """What the server counted during the run. The embedded one starts with the run, so all it counted; for a
        service given by its URL, /stats (optional) read before and after the run, and only the difference (see
        ``service_stats``), with a ``note`` for what is missing or not this run's. Never fails the run."""
        from orchbench.workloads.scoring import service_stats

        if self._final_stats is not None:
            return self._final_stats
        if self.external:
            return self._service_difference()
        after, note = service_stats.read(self.url)
        if after is None:
            return {"error": f"no stats from the scoring server: {note}"}
        return self._with_start(after)

    def _service_difference(self) -> dict[str, Any]:
        from orchbench.workloads.scoring import service_stats

        after, note = service_stats.read(self.url)
        if after is None:
            return {"note": note}
        notes = [n for n in (self._stats_before_note, note) if n]
        if self._stats_before is None:
            stats = after
            notes.append("/stats could not be read before the run: the figures are the service's totals")
        else:
            stats, more = service_stats.difference(self._stats_before, after)
            notes += more
        if notes:
            stats["note"] = "; ".join(dict.fromkeys(notes))
        return stats

    TROUBLE = ("refused", "dropped", "malformed", "hung", "slow", "early_retries", "connections_refused")

    @classmethod
    def format_stats(cls, stats: dict[str, Any]) -> list[tuple[str, str]]:
        """The server's counters grouped: requests, answers by status, trouble (only what happened), load, CPU. A
        known key holding something else (a saved file may hold anything) is shown as text, never grouped."""
        from orchbench import units
        from orchbench.workloads.scoring.service_stats import well_typed

        rest, odd = well_typed(stats)
        lines = []
        if "requests" in rest:
            distinct = rest.pop("unique_lines", None)
            aside = "" if distinct is None else f" for {units.count(distinct)} distinct lines"
            lines.append(("requests", units.count(rest.pop("requests")) + aside))
        if "by_status" in rest:
            lines.append(("answers", units.tally(rest.pop("by_status"))))
        if "served" in rest:
            lines.append(("served", units.count(rest.pop("served")) + " with a valid score"))
        trouble = {key: rest.pop(key) for key in cls.TROUBLE if key in rest}
        if trouble:
            happened = [f"{units.label(k)} {units.count(n)}" for k, n in trouble.items() if n]
            lines.append(("trouble", " · ".join(happened) or "none"))
        if "max_in_flight" in rest:
            now = rest.pop("in_flight", None)
            aside = f" ({units.count(now)} at the end)" if now else ""
            lines.append(("in flight", f"at most {units.count(rest.pop('max_in_flight'))}" + aside))
        if "max_connections_open" in rest:
            lines.append(("connections", f"at most {units.count(rest.pop('max_connections_open'))} open at once"))
        if "cpu_s" in rest:
            at_start = rest.pop("cpu_s_at_start", None)
            aside = "" if at_start is None else f" ({units.duration(at_start)} of it to start)"
            lines.append(("server CPU", units.duration(rest.pop("cpu_s")) + aside))
        return lines + super().format_stats({**rest, **odd})

    def _with_start(self, stats: dict[str, Any]) -> dict[str, Any]:
        """The server's counters, plus ``cpu_s_at_start``: its CPU seconds once started (``cpu_s`` minus it is
        the run's)."""
        if self._server_cpu_at_start is not None and "cpu_s" in stats:
            stats["cpu_s_at_start"] = self._server_cpu_at_start
        return stats

    # -- input, items, output --------------------------------------------------------------------------------

    def task_profiles(self, scenario: str) -> dict[str, TaskProfile]:
        # the server supplies latency and faults; overrides may add more; a request may safely run twice
        return {self.map_task: TaskProfile(idempotent=True)}

    def load_input(self) -> str:
        if self.spec.input_path is not None:
            text = _read_text(self.spec.input_path)
            if self.options["url"] is None:
                self._check_line_sizes(text, self.server_config().max_body)
            return text
        case = self.spec.case or self.default_case
        if case not in CASE_HELP:
            raise UsageError(
                f"workload 'scoring' has no test case {case!r}{did_you_mean(case, CASE_HELP)} "
                f"(cases: {', '.join(CASE_HELP)})"
            )
        return case_corpus(case)

    def _check_line_sizes(self, text: str, max_body: int) -> None:
        """A line whose request would exceed the embedded server's body limit is refused up front: the server
        would answer 413 to every attempt. (An external server's limit is its own business.)"""
        from orchbench.workloads.scoring.client import request_body

        for number, line in enumerate(split_lines(text), 1):
            # a character takes at most 12 bytes of JSON (an escaped surrogate pair): most lines need no encoding
            if 12 * len(line) + 16 > max_body and len(request_body(line, self.protocol())) > max_body:
                raise UsageError(
                    f"{self.spec.input_path}: line {number:,} has {len(line):,} characters, too long to "
                    f"score (the embedded server takes requests of up to {max_body:,} bytes)"
                )

    def prepare(self, raw: str, stage: Any) -> list[str]:
        return split_lines(raw)

    def item_key(self, item: str) -> str:
        return item

    def _connections(self) -> int:
        if self._connections_per_process is None:  # asked on every request: worked out once
            self._connections_per_process = self._count_connections()
        return self._connections_per_process

    def _count_connections(self) -> int:
        """What the strategy declared it runs at once in this process, at least ``DEFAULT_CONNECTIONS`` and the
        service's capacity: a pool larger than its callers costs nothing (connections open on demand), a smaller
        one would silently cap the strategy. The embedded server keeps no more than its ``max_connections``."""
        if self.options["connections"]:
            return self.options["connections"]
        wanted = max(self.in_flight_per_process or 0, DEFAULT_CONNECTIONS, self.max_in_flight() or 0)
        return wanted if self.external else min(wanted, self.server_config().max_connections)

    def warm(self) -> None:
        import importlib

        # the clients' libraries: imported here, not in a timed first attempt
        for name in (
            "orchbench.workloads.scoring.client",
            "orchbench.workloads.scoring.blocking",
            "orchbench.workloads.scoring.http1",
            *(["aiohttp"] if self.options["aiohttp"] else []),
        ):
            importlib.import_module(name)

    def protocol(self) -> Protocol:
        """How to ask the server, from the options (headers read from the environment of this process)."""
        if self._protocol is None:
            from orchbench.workloads.scoring.client import Protocol, parse_headers

            try:
                headers = parse_headers(self.options["headers"])
                protocol = Protocol(self.options["path"], self.options["body"], self.options["score_field"], headers)
                protocol.check(self.options["url"] or "http://127.0.0.1/")
            except ValueError as exc:
                raise UsageError(f"workload 'scoring': {exc}") from None
            self._protocol = protocol
        return self._protocol

    def _skipped(self, line: str) -> bool:
        return not self.options["send_blank"] and is_blank(line)

    def map_item(self, line: str) -> int:
        if self._skipped(line):
            return 0
        from orchbench.workloads.scoring.client import sync_client

        # A per-process pool, kept apart from the resource cache: switching caching off models a pipeline that
        # reloads its data, not one that throws its HTTP connections away.
        return sync_client(self.url, self._connections(), self.options["http_timeout"], self.protocol()).score(line)

    async def amap_item(self, line: str) -> int:
        if self._skipped(line):
            return 0
        import asyncio  # here, not at the top: listing the workloads needs no event loop

        client = self._async_client
        if client is None or client.loop is not asyncio.get_running_loop() or client.closed:
            from orchbench.workloads.scoring.client import async_client

            client = self._async_client = await async_client(
                self.url, self._connections(), self.options["http_timeout"], self.protocol(), self.options["aiohttp"]
            )
        return await client.score(line)

    def reduce(self, values: list[Any]) -> dict[str, Any]:
        if any(not isinstance(v, int) for v in values):
            raise ValueError("cannot total the scores: some lines have no score")
        return {"total": sum(values), "scores": list(values)}

    def reference(self, raw: str) -> dict[str, Any] | None:
        """The embedded server's answer, computed here; None (unknown) for an external service."""
        if self.external:
            return None
        scores = [score_line(line) for line in split_lines(raw)]
        return {"total": sum(scores), "scores": scores}

    def max_in_flight(self) -> int | None:
        """The service's capacity (more requests in flight only earn 429s): ``service_capacity`` when given, else
        the embedded server's, else a fixed default for a URL (nothing is known of it)."""
        if self.options["service_capacity"]:
            return self.options["service_capacity"]
        if self.external:
            return DEFAULT_CONNECTIONS
        return self.server_config().capacity or None

    def limit_s(self, raw: Any, items: list[Any], faults: Any) -> float | None:
        """The larger of two floors on the wall time against the embedded server (None for an external one):

        - its total busy time divided by its capacity: the sum, over the distinct non-blank lines, of the
          latencies of every admitted request up to and including the line's first successful one (those
          requests cannot be avoided, and each holds one of ``capacity`` slots for its whole latency);
        - the critical path of the slowest line: its attempts one after another, each for its whole latency,
          plus the ``Retry-After`` wait each 503 asks for (a client sends a line's next attempt once the
          previous one has failed, as every retry policy does; one that hedges may beat this term).

        With a fixed latency and no faults this is ``unique_lines / capacity × latency``.
        """
        from orchbench.workloads.scoring.model import Kind, decide, format_retry_after

        if self.external:
            return None
        config = self.server_config()
        if config.fault_rate >= 1.0:
            return None
        _, asked = format_retry_after(config.retry_after)
        busy = critical = 0.0
        for line in {item for item in items if not self._skipped(item)}:
            encoded = line.encode("utf-8")
            path = 0.0
            for attempt in range(_MAX_ATTEMPTS_FOR_LIMIT):
                decision = decide(config, encoded, attempt)
                busy += decision.latency
                path += decision.latency
                if decision.kind is Kind.OK:
                    critical = max(critical, path)
                    break
                if decision.kind is Kind.UNAVAILABLE:
                    path += asked
        bound = max(busy / config.capacity if config.capacity else 0.0, critical)
        return bound if bound > 0 and math.isfinite(bound) else None


def _check_reachable(url: str) -> None:
    """One line when nothing accepts a connection at the URL's host and port (the service needs no /health)."""
    import socket

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=10.0).close()
    except OSError as exc:
        raise UsageError(f"scoring server {url} is unreachable ({exc.strerror or exc})") from None


def _without_config(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in stats.items() if key != "config"}


def _read_text(path: str) -> str:
    from orchbench import read_input

    text = read_input(path)
    if text.startswith("\ufeff"):
        text = text[1:]
    if all(is_blank(line) for line in split_lines(text)):
        raise UsageError(f"{path}: has no line to score (it is empty or blank)")
    return text
