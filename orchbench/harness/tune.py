"""``--tune``: before a comparison, search each strategy's tunable knobs for the setting with the lowest wall time.

Every probe is a real run in a fresh child process (``run_isolated``). The search, per strategy:

1. a probe at the strategy's defaults (its resolved knob values are where the search starts, and its wall time is
   what the report compares against to say whether tuning changed the winner);
2. per knob in declared order (the others held at their best so far), a geometric walk by factors of 4 up, then
   down, from the current value, each direction stopped at the first point clearly worse than the best (slower
   by more than ``TOLERANCE``, or not ok: failed, incomplete or wrong runs are worse, never fast), then a
   refinement around the best by factors of 2 and √2;
3. the best two settings probed once more, and the one with the lowest median chosen.

A probe is stopped once it has run ``CLEARLY_WORSE`` times as long as the best probe so far (its result counts as
worse). ``TuneBudget`` bounds the probes per strategy, in runs or in seconds.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from orchbench.errors import UsageError

if TYPE_CHECKING:
    from orchbench.api import Strategy

TOLERANCE = 0.10  # a point slower than the best by more than this ends a walk in that direction
CLEARLY_WORSE = 2.0  # a probe is stopped once it has taken this many times the best probe's time
COARSE, FINE = 4.0, (2.0, math.sqrt(2.0))
CONFIRM = 2  # the best settings probed once more before one is chosen
DEFAULT_BUDGET = "24"


@dataclass(frozen=True)
class TuneBudget:
    """How much probing one strategy may spend: a number of runs, or of seconds."""

    runs: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> TuneBudget:
        """``"20"`` (runs) or ``"300s"`` (seconds); anything else is a UsageError."""
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|runs?)?\s*", text or "")
        if not match or float(match[1]) <= 0:
            raise UsageError(f"--tune-budget {text!r}: expected a number of runs (e.g. 20) or of seconds (e.g. 300s)")
        if match[2] == "s":
            return cls(seconds=float(match[1]))
        if not match[1].isdigit():
            raise UsageError(f"--tune-budget {text!r}: a number of runs is a whole number")
        return cls(runs=int(match[1]))

    def describe(self) -> str:
        return f"{self.runs} runs" if self.runs is not None else f"{self.seconds:g} s"


@dataclass
class Probe:
    """One tuning run: the knob values it ran with, its wall time, and whether it counts (``ok``)."""

    options: dict[str, Any]
    wall_s: float | None
    elapsed_s: float
    ok: bool
    error: str | None = None
    in_flight: int | None = None
    phase: str | None = None  # the knob being searched when it ran; None for the defaults and the confirmations
    failed_all: bool = False  # the run failed, or every item did (not: stopped at its deadline, only slow)


@dataclass
class Tuning:
    """One strategy's search: ranges searched, defaults, the chosen setting, every probe and the cost."""

    strategy: str
    ranges: dict[str, list[int]]
    default: dict[str, Any] = field(default_factory=dict)
    chosen: dict[str, Any] = field(default_factory=dict)
    probes: list[Probe] = field(default_factory=list)
    cost_s: float = 0.0
    exhausted: bool = False  # the budget ran out before the search ended
    kept_defaults: str | None = None  # why the strategy runs at its defaults after all (None: at ``chosen``)
    stopped: str | None = None  # why the search stopped before its end (a setting that failed entirely)
    interrupted: bool = False  # Ctrl-C stopped the search; its probes are those measured until then

    @property
    def edges(self) -> list[str]:
        """Knobs whose chosen value lies at an end of the range searched (the best may lie beyond it)."""
        if self.kept_defaults is not None:
            return []
        return [
            k
            for k, v in self.chosen.items()
            if k in self.ranges and v in self.ranges[k] and self.ranges[k][0] != self.ranges[k][1]
        ]

    def default_wall(self) -> float | None:
        first = self.probes[0] if self.probes else None
        return first.wall_s if first is not None and first.ok else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "edges": self.edges}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tuning:
        probes = [Probe(**{k: p[k] for k in Probe.__dataclass_fields__ if k in p}) for p in data.get("probes", [])]
        for p in probes:  # what the report and the plot read: a damaged file is a ValueError, not a crash later
            if not (
                isinstance(p.options, dict)
                and isinstance(p.ok, bool)
                and isinstance(p.elapsed_s, (int, float))
                and (p.wall_s is None or isinstance(p.wall_s, (int, float)))
                and isinstance(p.failed_all, bool)
            ):
                raise ValueError("a probe is malformed")
        return cls(
            strategy=data["strategy"],
            ranges={k: list(v) for k, v in data.get("ranges", {}).items()},
            default=dict(data.get("default", {})),
            chosen=dict(data.get("chosen", {})),
            probes=probes,
            cost_s=float(data.get("cost_s", 0.0)),
            exhausted=bool(data.get("exhausted", False)),
            kept_defaults=_text_or_none(data.get("kept_defaults")),
            stopped=_text_or_none(data.get("stopped")),
            interrupted=bool(data.get("interrupted", False)),
        )


def _text_or_none(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("a remark is not text")
    return value


def tunable_knobs(strategy_cls: type[Strategy], given: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The strategy's knobs declared ``tune=(low, high)`` that the user did not set, with their ranges (kept
    within the options' own bounds)."""
    knobs = {}
    for name, option in strategy_cls.options.items():
        if option.tune is None or name in given:
            continue
        low, high = _tune_range(strategy_cls.name, name, option)
        knobs[name] = (low, high)
    return knobs


def _tune_range(strategy: str, name: str, option: Any) -> tuple[int, int]:
    """A knob's ``tune=(low, high)`` within the option's own bounds, checked against its declaration before any
    probe: the search probes whole numbers from 0 up, so the option must take them and the range must hold one."""
    import math

    declared = option.tune
    shown = f"strategy {strategy!r}: option {name} declares tune={declared!r}"
    if option.type not in (int, float):
        raise UsageError(f"{shown}, but --tune searches numbers and the option is a {option.type.__name__}")
    if not (
        isinstance(declared, tuple)
        and len(declared) == 2
        and all(type(v) in (int, float) and math.isfinite(v) for v in declared)
    ):
        raise UsageError(f"{shown}: expected (low, high), two finite numbers")
    low = math.ceil(max(declared[0], option.min if option.min is not None else declared[0]))
    high = math.floor(min(declared[1], option.max if option.max is not None else declared[1]))
    if not 0 <= low <= high:
        raise UsageError(f"{shown}: within its bounds no whole number from 0 up is left to search ({low}–{high})")
    return low, high


RunProbe = Callable[[dict[str, Any], float | None], tuple[Probe, dict[str, Any], int]]


class Search:
    """The search over one strategy's knobs. ``run_probe(options, deadline_s)`` runs one probe and returns it,
    the strategy's resolved options and the number of distinct items."""

    def __init__(
        self,
        label: str,
        knobs: dict[str, tuple[int, int]],
        run_probe: RunProbe,
        budget: TuneBudget,
        report: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.run_probe = run_probe
        self.budget = budget
        self.report = report
        self.knobs = knobs
        self.tuning = Tuning(label, {k: list(r) for k, r in knobs.items()})
        self.seen: dict[tuple, list[Probe]] = {}
        self.phase: str | None = None

    # -- budget and probes ---------------------------------------------------------------------------------

    def _left(self) -> bool:
        t = self.tuning
        if t.stopped is not None:
            return False
        if self.budget.runs is not None and len(t.probes) >= self.budget.runs:
            t.exhausted = True
        if self.budget.seconds is not None and t.cost_s >= self.budget.seconds:
            t.exhausted = True
        return not t.exhausted

    def _deadline(self) -> float | None:
        best = [p.elapsed_s for p in self.tuning.probes if p.ok]
        deadline = CLEARLY_WORSE * min(best) if best else None
        if self.budget.seconds is not None:
            left = max(0.0, self.budget.seconds - self.tuning.cost_s)
            deadline = left if deadline is None else min(deadline, left)
        return deadline

    def _probe(self, options: dict[str, Any]) -> tuple[Probe | None, dict[str, Any], int]:
        if not self._left():
            return None, {}, 0
        probe, resolved, items = self.run_probe(options, self._deadline())
        probe.phase = self.phase
        self.tuning.probes.append(probe)
        self.tuning.cost_s += probe.elapsed_s
        self.seen.setdefault(_key(probe.options), []).append(probe)
        shown = _setting(probe.options)
        outcome = f"{probe.wall_s:.3f} s" if probe.ok else f"worse ({probe.error})"
        self.report(f"tune {self.tuning.strategy}: {shown}: {outcome}")
        if probe.failed_all and not any(p.ok for p in self.tuning.probes):
            # Nothing has worked yet: every further setting would be probed in vain (a service that refuses
            # every request, a broken input), so the search ends here and says why.
            self.tuning.stopped = f"every item failed at {shown} ({probe.error})"
            self.report(f"tune {self.tuning.strategy}: stopped: {self.tuning.stopped}")
        return probe, resolved, items

    def _score(self, options: dict[str, Any]) -> float:
        """Median wall of the setting's ok probes; infinite when it has none, or any probe failed."""
        probes = self.seen.get(_key(options), [])
        if not probes or not all(p.ok for p in probes):
            return math.inf
        return statistics.median(p.wall_s for p in probes if p.wall_s is not None)

    def _at(self, options: dict[str, Any]) -> float:
        if _key(options) not in self.seen:
            self._probe(options)
        return self._score(options)

    # -- the search ---------------------------------------------------------------------------------------

    def run(self) -> Tuning:
        t = self.tuning
        first, resolved, items = self._probe({})
        if first is None:
            return t
        t.default = {k: resolved.get(k) for k in self.knobs}
        current = {}
        fixed = []
        for knob, (low, high) in self.knobs.items():
            if items:  # no knob is searched past the number of distinct items
                high = max(low, min(high, items))
                t.ranges[knob] = [low, high]
            if low == high:
                fixed.append(f"{knob} can only be {low}")
                continue
            value = resolved.get(knob)
            start = int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            current[knob] = min(high, max(low, start)) if start else _geometric_middle(low, high)
        if not current or t.stopped is not None:
            capped = f" (the input has {items} distinct item{'s' * (items != 1)})" if items else ""
            t.kept_defaults = t.stopped or f"nothing to explore: {', '.join(fixed)}{capped}"
            t.chosen = dict(t.default)
            return t
        searched = {**t.default, **current}
        if first.ok and searched == t.default:  # the defaults probe is the first point of the curve
            first.options = dict(current)
            self.seen = {_key(current): [first]}
        for knob in current:
            self.phase = knob
            current[knob] = self._search_knob(knob, current)
        self.phase = None
        self._confirm(current)
        t.chosen = {**t.default, **current}
        t.kept_defaults = self._not_better(current)
        if t.kept_defaults is not None:
            t.chosen = dict(t.default)
        return t

    def _not_better(self, chosen: dict[str, Any]) -> str | None:
        """Why the setting found is not worth taking over the defaults, or None when it is faster than them."""
        if self.tuning.stopped is not None:
            return self.tuning.stopped
        found = self._score(chosen)
        if found == math.inf:
            return "no setting probed ran every item correctly"
        at_defaults = self._score(self.tuning.probes[0].options)
        if at_defaults < math.inf and not found < at_defaults:
            return (
                f"no setting was faster than the defaults (best probed {_setting(chosen)}: {found:.3f} s; "
                f"defaults: {at_defaults:.3f} s)"
            )
        return None

    def _search_knob(self, knob: str, current: dict[str, Any]) -> int:
        low, high = self.tuning.ranges[knob]

        def at(value: int) -> float:
            return self._at({**current, knob: value})

        best = current[knob]
        best_wall = at(best)
        for direction in (COARSE, 1 / COARSE):
            value = best
            while self._left():
                step = _step(value, direction, low, high)
                if step is None:
                    break
                value = step
                wall = at(value)
                if wall < best_wall:
                    best, best_wall = value, wall
                elif wall == math.inf or not wall <= best_wall * (1 + TOLERANCE):
                    break  # worse, or not ok: never a step further while nothing improves
        for factor in FINE:
            for value in (_step(best, factor, low, high), _step(best, 1 / factor, low, high)):
                if value is not None and self._left():
                    wall = at(value)
                    if wall < best_wall:
                        best, best_wall = value, wall
        return best

    def _confirm(self, current: dict[str, Any]) -> None:
        """Probe the best settings once more, then keep the one with the lowest median."""

        def ranked() -> list[tuple[float, tuple]]:
            full = [s for s in self.seen if set(dict(s)) == set(current)]
            return sorted((w, s) for w, s in ((self._score(dict(s)), s) for s in full) if w < math.inf)

        for _, key in ranked()[:CONFIRM]:
            if len(self.seen[key]) < 2 and self._left():
                self._probe(dict(key))
        best = ranked()
        if best:
            current.update(dict(best[0][1]))


def _setting(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"


def _key(options: dict[str, Any]) -> tuple:
    return tuple(sorted(options.items()))


def _geometric_middle(low: int, high: int) -> int:
    return max(low, min(high, round(math.sqrt(max(low, 1) * high))))


def _step(value: int, factor: float, low: int, high: int) -> int | None:
    """The next point from ``value`` by ``factor``, within [low, high]; an end of the range is a point too."""
    nxt = max(low, min(high, round(value * factor)))
    if nxt == value:
        nxt = max(low, min(high, value + (1 if factor > 1 else -1)))
    return None if nxt == value else nxt


# --- the driver: real runs ----------------------------------------------------------------------------------


# For the probe lines: called with (strategies to tune, runs, seconds) of the budget, it gives a factory called once
# per tuned strategy, which gives the callback each probe's line is passed to.
ProbeProgress = Callable[[int, "int | None", "float | None"], Callable[[], Callable[[str], None]]]


def silent(strategies: int, runs: int | None, seconds: float | None) -> Callable[[], Callable[[str], None]]:
    """The :data:`ProbeProgress` that shows nothing."""
    return lambda: lambda line: None


def tune_specs(
    specs: list[tuple[str, Any]], budget: TuneBudget, progress: ProbeProgress = silent
) -> tuple[list[tuple[str, Any]], dict[str, Tuning]]:
    """Tune every spec whose strategy has tunable knobs (presets are not tuned); return the specs set to their
    chosen settings and each strategy's search. ``progress`` shows the probes (the command line's progress lines)."""
    from orchbench.harness.plugins import get_registry

    registry = get_registry()
    presets = registry.presets()
    tuned, searches = [], {}
    knobs_of = {
        label: {} if label in presets else tunable_knobs(registry.strategy(spec.strategy), spec.strategy_options)
        for label, spec in specs
    }
    reporter = progress(sum(map(bool, knobs_of.values())), budget.runs, budget.seconds)
    for label, spec in specs:
        knobs = knobs_of[label]
        if not knobs:
            tuned.append((label, spec))
            continue
        search = Search(label, knobs, probe_runner(spec), budget, reporter())
        try:
            tuning = searches[label] = search.run()
        except KeyboardInterrupt:
            search.tuning.interrupted = True
            searches[label] = search.tuning
            raise TuningInterrupted(searches) from None
        if tuning.kept_defaults is not None:
            tuned.append((label, spec))
        else:
            chosen = {k: v for k, v in tuning.chosen.items() if v is not None}
            tuned.append((label, spec.replace(strategy_options={**spec.strategy_options, **chosen})))
    return tuned, searches


class TuningInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, SIGHUP) stopped the tuning; ``searches`` holds every search so far, with its probes."""

    def __init__(self, searches: dict[str, Tuning]) -> None:
        super().__init__("the tuning was interrupted")
        self.searches = searches
        self.record: dict[str, Any] = {}  # the fairness record, once fairness.prepare has made it


def probe_runner(spec: Any, run: Callable[[Any, float | None], Any] | None = None) -> RunProbe:
    """Probes of ``spec`` with the knob values of each probe: every one a real run, by default isolated in a
    fresh child process (``run(spec, deadline_s)`` returns its RunResult)."""
    if run is None:
        from orchbench.harness.isolate import run_isolated

        def run(one: Any, deadline_s: float | None) -> Any:
            return run_isolated(one, deadline_s=deadline_s)

    def run_probe(options: dict[str, Any], deadline_s: float | None) -> tuple[Probe, dict[str, Any], int]:
        started = time.monotonic()
        result = run(spec.replace(strategy_options={**spec.strategy_options, **options}), deadline_s)
        elapsed = time.monotonic() - started
        error = result.error or (None if result.ok else _why_not_ok(result))
        probe = Probe(dict(options), result.wall_s if result.ok else None, elapsed, result.ok, error, result.in_flight)
        cut_short = deadline_s is not None and elapsed >= deadline_s  # only slower than the best: not a failure
        probe.failed_all = not cut_short and (result.error is not None or (result.items > 0 and not result.succeeded))
        return probe, result.resolved_options, result.unique_items

    return run_probe


def _why_not_ok(result: Any) -> str:
    if not result.complete:
        return f"{result.failed} of {result.items} items failed"
    return "wrong output"
