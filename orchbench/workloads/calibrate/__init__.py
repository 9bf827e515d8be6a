"""``calibrate``: items that do known work — sleep, burn CPU, hold memory — by exact amounts, to check the instrument.

Each item runs ``loops`` iterations of a fixed loop (fixed work), burns ``cpu_s`` seconds of its thread's CPU time
(counted on the thread's own CPU clock, so contention
for the cores stretches the wall time but never the CPU figure), then writes ``hold_mib`` MiB to every page and
holds them for ``sleep_s`` seconds of sleep, then lets them go. The truth of a sequential run is then known from
the options alone: CPU ``items × cpu_s``, a peak rise of ``hold_mib``, and at least ``items × sleep_s`` of wall.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from orchbench import Option, TaskProfile, Workload, hookimpl, usable_cores

if TYPE_CHECKING:
    import typer

MIB = 2**20


def spin(loops: int) -> int:
    """A fixed amount of work: ``loops`` iterations of integer arithmetic."""
    x = 0
    for i in range(loops):
        x += i * i
    return x


def burn(cpu_s: float) -> None:
    """Spend ``cpu_s`` seconds of this thread's CPU time (whatever the wall time it takes)."""
    deadline = time.thread_time() + cpu_s
    x = 0
    while time.thread_time() < deadline:
        for i in range(200):  # a few microseconds between reads of the clock
            x += i * i


def hold(mib: float, seconds: float) -> int:
    """Keep ``mib`` MiB resident (every page written) for ``seconds``; the bytes held."""
    size = int(mib * MIB)
    block = b"\x01" * size  # written through, so every page is resident (a zeroed buffer may stay unmapped)
    time.sleep(seconds)
    del block
    return size


class Calibrate(Workload):
    name = "calibrate"
    description = "known work to check the instrument: items that sleep, burn CPU or hold memory by exact amounts"
    unit = "items"
    cases = {"default": "the work the options describe (--set items=…, cpu_s=…, sleep_s=…, hold_mib=…, loops=…)"}
    default_case = "default"
    scenarios = {"none": "no latency, no faults: only the work the options ask for"}
    default_scenario = "none"
    map_task = "calibrate"
    options = {
        "items": Option(int, 1, "items, each doing the work below", min=1, max=100_000),
        "cpu_s": Option(float, 0.0, "CPU seconds each item burns", min=0, max=3600),
        "sleep_s": Option(float, 0.0, "seconds each item sleeps (holding its memory)", min=0, max=3600),
        "hold_mib": Option(float, 0.0, "MiB each item writes and holds while it sleeps", min=0, max=65536),
        "loops": Option(
            int,
            0,
            "iterations of a fixed loop each item runs first: fixed work, whose time shows "
            "the machine's speed and noise",
            min=0,
            max=10**10,
        ),
    }

    def task_profiles(self, scenario: str) -> dict[str, TaskProfile]:
        return {self.map_task: TaskProfile(idempotent=True)}

    def load_input(self) -> int:
        return self.options["items"]

    def prepare(self, raw: int, stage: Any) -> list[int]:
        return list(range(raw))

    def map_item(self, item: int) -> int:
        spin(self.options["loops"])
        burn(self.options["cpu_s"])
        hold(self.options["hold_mib"], self.options["sleep_s"])
        return item

    def reduce(self, values: list[int]) -> int:
        return sum(values)

    def reference(self, raw: int) -> int:
        return raw * (raw - 1) // 2

    def limit_s(self, raw: int, items: list[Any], faults: Any) -> float:
        """Every item at once, the CPU work spread over every core."""
        o = self.options
        return max(o["cpu_s"] + o["sleep_s"], len(items) * o["cpu_s"] / usable_cores())


@hookimpl
def orchbench_workloads() -> list[type[Workload]]:
    return [Calibrate]


@hookimpl
def orchbench_commands(app: typer.Typer) -> None:
    from orchbench.workloads.calibrate.check import register

    register(app)
