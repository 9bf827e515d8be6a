"""The sizing contract between a strategy and a workload: what a strategy declares it runs at once per process
(``Task.declare_in_flight``) sizes the workload's per-process resources; what the workload's ``start()`` learnt
reaches its copies in worker processes as ``spec.started``, never as a user's option.

Real runs against the embedded scoring server, whose ``/stats`` report the most connections it had open at once
and the most requests it had in flight."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from orchbench.testing import assert_matches_reference, run_spec
from orchbench.workloads.scoring import DEFAULT_CONNECTIONS
from tests.helpers import cli

DECLARED = 400  # well above the connections a scoring client holds without a declaration (DEFAULT_CONNECTIONS)

# Every answer takes 0.5 s and none fails, at a server of unlimited capacity: each item a process lets out at
# first opens a connection of its own, up to the size of its client's pool.
QUIET_SERVER = {
    "capacity": 0,
    "latency_median": 0.5,
    "latency_sigma": 0.0,
    "slow_rate": 0.0,
    "rate_503": 0.0,
    "rate_500": 0.0,
    "drop_rate": 0.0,
    "malformed_rate": 0.0,
    "hang_rate": 0.0,
}

PLUGIN = textwrap.dedent("""
    import asyncio
    import os

    import orchbench


    class Gather(orchbench.Strategy):
        # one event loop; its knob has a name no workload could guess
        name = "gather-with-a-gate"
        description = "asyncio.gather under a semaphore"
        options = {"gate": orchbench.Option(int, 4, "coroutines at once", min=1)}

        def map(self, task, items):
            self.in_flight = min(self.options["gate"], len(items))
            task.declare_in_flight(self.in_flight)

            async def go():
                gate = asyncio.Semaphore(self.in_flight)

                async def one(index, item):
                    async with gate:
                        return await task.arun(index, item)

                return await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))

            return list(asyncio.run(go()))


    class StartedProbe(orchbench.Workload):
        # each item's value is what start() returned, as the process that computes it sees it
        name = "started-probe"
        description = "reports what the run's start() learnt"
        cases = {"four": "four items"}
        default_case = "four"

        def start(self):
            return {"token": f"from {os.getpid()}"}

        def load_input(self):
            return ["a", "b", "c", "d"]

        def map_item(self, item):
            return (self.spec.started.get("token"), os.getpid(), self.in_flight_per_process)

        def reduce(self, values):
            return values


    @orchbench.hookimpl
    def orchbench_strategies():
        return [Gather]


    @orchbench.hookimpl
    def orchbench_workloads():
        return [StartedProbe]
""")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> str:
    # one file for the module: a plugin file is imported under its stem, which names one module per process
    path = tmp_path_factory.mktemp("plugin") / "sizing_probe.py"
    path.write_text(PLUGIN, encoding="utf-8")
    return str(path)


def _scoring(strategy: str, strategy_options: dict[str, Any], plugins: list[str] | None = None) -> Any:
    result = run_spec(
        strategy,
        workload="scoring",
        case="1k",  # 511 distinct lines to send
        scenario="none",
        strategy_options=strategy_options,
        workload_options=QUIET_SERVER,
        plugins=plugins or [],
    )
    assert_matches_reference(result)
    return result


@pytest.mark.parametrize(
    ("strategy", "options"),
    [
        ("asyncio", {"concurrency": DECLARED}),
        ("hybrid", {"workers": 1, "concurrency": DECLARED}),  # declared in the parent, honoured in the worker
        ("gather-with-a-gate", {"gate": DECLARED}),  # a plugin's knob, by a name of its own
    ],
)
def test_the_in_flight_a_strategy_declares_reaches_the_server(plugin: str, strategy: str, options: dict) -> None:
    # Were the declaration ignored, the scoring client's pool would hold each process to DEFAULT_CONNECTIONS.
    result = _scoring(strategy, options, [plugin])
    assert_the_declaration_sized_the_pool(result)


def assert_the_declaration_sized_the_pool(result: Any) -> None:
    """More connections open at once than an undeclared pool holds, and no more requests in flight than declared.

    Connections for the lower bound, not requests in flight: a connection stays open once made, so its peak does
    not depend on the server reading every request before the first answers go out (a loaded machine, or a full
    listen queue whose dropped connection attempts retry a second later, spreads the requests' arrival beyond the
    0.5 s of an answer). Not for the upper bound: a pool that outlives the run (a worker's, an actor's) is still
    open when the runner's own connection asks for ``/stats``."""
    stats = result.workload_stats
    assert result.in_flight == DECLARED
    assert stats["max_connections_open"] > DEFAULT_CONNECTIONS, stats
    assert stats["max_in_flight"] <= DECLARED, stats


def test_a_strategy_that_declares_nothing_gets_the_workloads_default() -> None:
    from orchbench.runtime.cache import ResourceCache
    from orchbench.types import RunSpec
    from orchbench.workloads.scoring import ScoringWorkload

    spec = RunSpec("sequential", workload="scoring", scenario="none", workload_options=QUIET_SERVER)
    work = ScoringWorkload(spec, ResourceCache())
    assert work.in_flight_per_process is None
    assert work._count_connections() == DEFAULT_CONNECTIONS
    work.in_flight_per_process = DECLARED
    assert work._count_connections() == DECLARED


def test_what_start_learnt_reaches_every_worker_and_the_declaration_too(plugin: str) -> None:
    result = run_spec("processes", workload="started-probe", plugins=[plugin], strategy_options={"workers": 2})
    assert result.ok and result.complete
    tokens = {token for token, _, _ in result.output}
    workers = {pid for _, pid, _ in result.output}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("from ")
    assert f"from {next(iter(workers))}" not in tokens  # learnt in the run's process, not in a worker
    assert {declared for _, _, declared in result.output} == {1}  # processes: a worker runs its items in turn
    assert result.spec["workload_options"] == {}  # nothing of it became an option


def test_the_servers_url_is_no_users_option() -> None:
    bad = cli("run", "sequential", "-w", "scoring", "-t", "small", "--set", "embedded_server=true")
    assert bad.returncode == 2
    assert "option 'embedded_server'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "embedded_server" not in listed.stdout and "connections" in json.dumps(json.loads(listed.stdout))
