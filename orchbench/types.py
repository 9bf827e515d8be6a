"""Plain-data records that cross process boundaries: RunSpec in, Outcome per item, RunResult out.

Everything here is JSON-able (``to_dict``/``from_dict``) and picklable, so a run can be described once in the
parent and rebuilt in any worker process, and its result stored and re-read without pickle. The run options are
declared here too, once, as the typed fields of :class:`RunOptions` (each read as an :class:`Option`, the typed
setting plugins declare theirs with), so that RunSpec's fields derive from them without importing the plugin
contract, which imports these records.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchbench.errors import UsageError

MAX_DURATION_S = 86_400.0  # a delay or timeout longer than a day is a typo, and past ~1e9 s it overflows a sleep
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """A named, typed setting of a strategy, workload or retry policy, given on the CLI as ``--set key=value``.

    ``type`` is ``bool``, ``int``, ``float`` or ``str``; ``choices`` makes a ``str`` option a choice among these
    values. Every value is parsed by :meth:`parse`, once, before any work starts.
    ``tune=(low, high)`` marks a strategy's numeric knob that ``compare --tune`` searches (geometrically, within
    that range) for the value with the lowest wall time; leave it None for options that are not worth searching.
    ``duration``: the value is a number of seconds something waits (a delay, a timeout), so it may not exceed
    :data:`MAX_DURATION_S`: a value beyond a day is a usage error, not a run that never ends.
    ``flag`` (workload options only): a command-line flag of its own, e.g. ``"--url"``, offered by every command
    that runs workloads besides ``--set``; a workload that does not declare it refuses it by name.
    """

    type: type = int
    default: Any = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    tune: tuple[float, float] | None = None
    duration: bool = False
    flag: str | None = None
    choices: tuple[str, ...] | None = None

    def accepted(self) -> str:
        """The values this option accepts, in words: ``a whole number from 1 to 1024``."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.type is bool:
            return "true or false; also yes/no, on/off, 1/0"
        if self.type is str:
            return "any text"
        what = "a whole number" if self.type is int else "a number"
        high = self.max if not self.duration else min(self.max or MAX_DURATION_S, MAX_DURATION_S)
        unit = " seconds" if self.duration else ""
        if self.min is not None and high is not None:
            return f"{what} from {self.min:g} to {high:g}{unit}"
        if self.min is not None:
            return f"{what}{unit} of at least {self.min:g}"
        if high is not None:
            return f"{what}{unit} of at most {high:g}"
        return what if self.type is int else "a finite number"

    def parse(self, name: str, raw: Any, *, shown: str | None = None) -> Any:
        """Convert and check a raw value (text as typed, or a value of the declared type); a bad one raises
        UsageError naming the option (``shown``, by default ``option NAME='RAW'``) and the accepted values."""
        if raw is None:
            return None
        shown = shown or f"option {name}={raw!r}"
        value = self._convert(raw)
        if value is _INVALID:
            raise UsageError(f"{shown} is not {_article(self)} (accepted: {self.accepted()})")
        if isinstance(value, float) and not math.isfinite(value):  # NaN would pass any bound; inf hangs a sleep
            raise UsageError(f"{shown} is not a finite number (accepted: {self.accepted()})")
        if self.min is not None and value < self.min:
            raise UsageError(f"{shown} is below its minimum {self.min:g} (accepted: {self.accepted()})")
        if self.max is not None and value > self.max:
            raise UsageError(f"{shown} is above its maximum {self.max:g} (accepted: {self.accepted()})")
        if self.duration and value > MAX_DURATION_S:
            raise UsageError(
                f"{shown} is longer than a day ({MAX_DURATION_S:g} s); no wait that long is meant "
                f"(accepted: {self.accepted()})"
            )
        return value

    def _convert(self, raw: Any) -> Any:
        """The value as the declared type, or ``_INVALID``. Text is parsed; a value of another type is never
        coerced (``2.5`` is not the int 2, ``1`` is not True)."""
        text = raw.strip() if isinstance(raw, str) else None
        if self.type is bool:
            if isinstance(raw, bool):
                return raw
            lowered = text.lower() if text is not None else None
            return _INVALID if lowered not in _TRUE | _FALSE else lowered in _TRUE
        if self.type is str:
            if not isinstance(raw, str) or (self.choices is not None and raw not in self.choices):
                return _INVALID
            return raw
        if isinstance(raw, bool):
            return _INVALID
        try:
            if self.type is int:
                if isinstance(raw, float):
                    return int(raw) if raw.is_integer() else _INVALID
                return int(text) if text is not None else (raw if isinstance(raw, int) else _INVALID)
            if self.type is float:
                if text is not None:
                    return float(text)
                return float(raw) if isinstance(raw, (int, float)) else _INVALID
            return self.type(raw)  # a type of a plugin's own: its constructor checks the value
        except (TypeError, ValueError, OverflowError):
            return _INVALID


_INVALID: Any = object()


def _article(option: Option) -> str:
    if option.choices is not None:
        return "a valid choice"
    return {bool: "a valid bool", int: "a whole number", float: "a number", str: "text"}.get(
        option.type, f"a valid {option.type.__name__}"
    )


# The workload a run runs when none is named: the original exercise's pipeline (a project changes it with
# ``workload = "..."`` in ``[tool.orchbench]``). The only workload the core names: a default, not a special case.
DEFAULT_WORKLOAD = "anagrams"
RESULT_SCHEMA = "orchbench.run/1"


RUN_OPTION = "orchbench.run_option"  # the key of a run option's declaration in its field's metadata


@dataclass(frozen=True)
class RunOption:
    """One option of the commands that run strategies: its value (type, default, bounds and help, as an
    :class:`Option`) and its command-line flags, as a field of :class:`RunOptions` declares it
    (:func:`run_option`). The commands' flags, the keys of ``[tool.orchbench]`` (the long flag without dashes),
    the Python API's keywords, the fields and defaults of :class:`RunSpec` and the checks of every value given
    derive from those fields."""

    value: Option
    flags: tuple[str, ...]
    many: bool = False  # repeatable: the value is a list

    @property
    def flag(self) -> str:
        return self.flags[0]

    @property
    def key(self) -> str:
        """Its name in ``[tool.orchbench]`` and in ``sweep --over``."""
        return self.flag.removeprefix("--")


def run_option(default: Any, help: str, *flags: str, **checks: Any) -> Any:
    """Declare a field of :class:`RunOptions` a run option: its default (``[]``: repeatable), its help, its
    command-line flags and its checks (``min``, ``max``: see :class:`Option`); its type is the field's."""
    declared = {RUN_OPTION: (help, flags, checks)}
    if default == []:
        return field(default_factory=list, metadata=declared)
    return field(default=default, metadata=declared)


@dataclass(kw_only=True)
class SpecOptions:
    """The run options a :class:`RunSpec` holds as they are given (the others are routed: ``--set`` to the
    strategy, workload and retry policy; ``--no-cache``, ``--no-memo``, ``--reference`` to fields of their own)."""

    workload: str = run_option(DEFAULT_WORKLOAD, "Workload to run (see `orchbench list`).", "--workload", "-w")
    case: str | None = run_option(None, "Test case of the workload.", "--test-case", "-t")
    input_path: str | None = run_option(None, "Read the input from this UTF-8 file ('-': stdin).", "--input", "-i")
    scenario: str | None = run_option(None, "Latency and fault scenario (workload's default).", "--scenario")
    seed: int = run_option(0, "Seed of the deterministic faults.", "--seed")
    fault_rate: float | None = run_option(
        None, "Override: chance an attempt raises (0-1).", "--fault-rate", min=0.0, max=1.0
    )
    hang_rate: float | None = run_option(
        None, "Override: chance an attempt hangs (0-1).", "--hang-rate", min=0.0, max=1.0
    )
    crash_rate: float | None = run_option(
        None, "Override: chance an attempt kills its worker process (0-1).", "--crash-rate", min=0.0, max=1.0
    )
    latency_scale: float | None = run_option(None, "Override: multiply every task latency.", "--latency-scale", min=0.0)
    cpu_ms: float | None = run_option(None, "Override: CPU work per task attempt, in ms.", "--cpu-ms", min=0.0)
    retry: str = run_option("exponential", "Retry policy (see `orchbench list`).", "--retry", "-r")


@dataclass(kw_only=True)
class RunOptions(SpecOptions):
    """The run options, declared once, as one command received them (or the Python API was given them):
    :data:`RUN_OPTIONS` reads their declarations; ``with_run_options`` (orchbench.cli.common) gives a
    command the ones it takes."""

    sets: list[str] = run_option(
        [],
        "An option KEY=VALUE of the strategy, workload or retry policy; prefix strategy./workload./retry. when a "
        "key is ambiguous. Repeatable.",
        "--set",
    )
    no_cache: bool = run_option(False, "Reload resources on every call and recompute duplicates.", "--no-cache")
    no_memo: bool = run_option(False, "Recompute duplicate items (resources stay cached).", "--no-memo")
    reference: str | None = run_option(
        None, "Check every output against this reference (written by `orchbench reference record`).", "--reference"
    )
    input_given: str | None = None  # not an option: the input as the user named it, once input_path is a copy
    flags: dict[str, Any] = field(default_factory=dict)  # not an option: workload flags given, {"--url": ...}

    def inputs(self) -> dict[str, str | None]:
        """The files these options read, by what they are (see
        :func:`orchbench.harness.overwrite.refuse_overwrites`)."""
        return {
            "the input (--input)": self.input_given or self.input_path,
            "the reference (--reference)": self.reference,
        }


def _declared(options: type) -> dict[str, RunOption]:
    """The run options declared by the fields of ``options`` (see :func:`run_option`), in their order."""
    hints = typing.get_type_hints(options)
    declared = {}
    for f in dataclasses.fields(options):
        if RUN_OPTION not in f.metadata:
            continue
        help, flags, checks = f.metadata[RUN_OPTION]
        many = typing.get_origin(hints[f.name]) is list
        value_type = next((t for t in typing.get_args(hints[f.name]) if t is not type(None)), hints[f.name])
        value = Option(value_type, None if many else f.default, help, **checks)
        declared[f.name] = RunOption(value, flags, many=many)
    return declared


RUN_OPTIONS: dict[str, RunOption] = _declared(RunOptions)
SPEC_OPTIONS = tuple(f.name for f in dataclasses.fields(SpecOptions))  # the run options a RunSpec holds as given


@dataclass
class RunSpec(SpecOptions):
    """Everything needed to rebuild one run in a fresh process: what to run, on what, under which faults. Its
    run options are those of :class:`SpecOptions`, as given."""

    strategy: str
    retry_options: dict[str, Any] = field(default_factory=dict)
    cache: bool = True
    memo: bool = True
    strategy_options: dict[str, Any] = field(default_factory=dict)
    workload_options: dict[str, Any] = field(default_factory=dict)
    reference_path: str | None = None  # a recorded reference to check the output against
    plugins: list[str] = field(default_factory=list)  # plugin files or modules to load besides the installed ones
    python: str | None = None  # the interpreter the run process runs on (compare --python); None: this one
    # Learnt while the run starts, for the copies of its workload and task in other processes (never options):
    started: dict[str, Any] = field(default_factory=dict)  # what Workload.start() returned (e.g. its server's URL)
    in_flight_per_process: int | None = None  # what the strategy declared with Task.declare_in_flight

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {"strategy": data.pop("strategy"), **data}  # its strategy first, then its run options

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> RunSpec:
        return dataclasses.replace(self, **changes)


@dataclass(slots=True)  # one per item: slots keep a million of them ~100 MB smaller than with a __dict__ each
class Outcome:
    """What happened to one item: its value, or the error it finally failed with; never both."""

    index: int
    value: Any = None
    error: str | None = None
    attempts: int = 0
    latencies: Sequence[float] = ()  # of each attempt, kept as a tuple (a list over-allocates)
    hedges: int = 0  # attempts started beside a slower one (counted in attempts too)
    hedges_won: int = 0  # hedges whose success was the item's value

    def __post_init__(self) -> None:
        if type(self.latencies) is not tuple:
            self.latencies = tuple(self.latencies)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunResult:
    """The measured account of one run. Times in seconds, memory in bytes."""

    spec: dict[str, Any]
    label: str | None = None
    items: int = 0
    unique_items: int = 0
    succeeded: int = 0
    failed: int = 0
    complete: bool = False
    correct: bool | None = None
    output_digest: str | None = None
    reference_digest: str | None = None
    mismatch: dict[str, Any] | None = None  # what differs: {"against", "count", "first": [{where, expected, actual}]}
    wall_s: float = 0.0
    startup_s: float = 0.0
    prepare_s: float = 0.0
    limit_s: float | None = None
    attempts: int = 0
    retries: int = 0
    hedges: int = 0
    hedges_won: int = 0
    give_ups: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_p99_s: float | None = None
    # The measured window (wall_s, cpu_s, memory) spans prepare → reduce inside the run process; elapsed_s is what
    # the user waited: the whole run, or for `orchbench run` the whole command (start of the CLI to the result).
    elapsed_s: float | None = None
    cpu_s: float | None = None  # user+sys of the process tree over the window, from the kernel's CPU clocks
    cpu_granularity_s: float | None = None  # how far cpu_s may stray from the kernel's figure
    cpu_percent: float | None = None
    service_cpu_s: float | None = None  # the workload's service processes over the window (kernel CPU clocks)
    cores: int | None = None  # the cores the run process could run on
    peak_rss: int | None = None  # the tree's peak: its own high-water marks and sampled simultaneous sums
    peak_rss_bound: int | None = None  # the sum of every process's own high-water mark: the tree's peak is ≤ this
    base_rss: int | None = None  # the tree's RSS as the window opened
    peak_uss: int | None = None
    end_uss: int | None = None  # the tree's USS as the window closed
    sample_period_s: float | None = None
    measure_notes: list[str] = field(default_factory=list)  # why a figure is missing or only sampled
    failures: list[dict[str, Any]] = field(default_factory=list)
    workload_stats: dict[str, Any] = field(default_factory=dict)
    strategy_stats: dict[str, Any] = field(default_factory=dict)
    in_flight: int | None = None  # the most items the strategy let be in flight at once
    time_account: dict[str, Any] | None = None  # where the wall time went (orchbench.harness.account)
    # the workload's worker resources (Workload.worker_factory): {"opened", "closed", "errors"}; None without one
    worker_resources: dict[str, Any] | None = None
    resolved_options: dict[str, Any] = field(default_factory=dict)  # the strategy's options, defaults filled in
    error: str | None = None
    output: Any = None
    schema: str = RESULT_SCHEMA

    @property
    def name(self) -> str:
        """The name the run was asked for: a preset's name, or else its strategy's."""
        return self.label or self.spec.get("strategy", "?")

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.items if self.items else 0.0

    @property
    def throughput(self) -> float:
        """Items that succeeded per second of wall time: a failed item is not work done."""
        return self.succeeded / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def timed(self) -> bool:
        """Whether the run's wall time counts in the statistics: it ended without a run error, over a window of some
        length (a run with failed items or a wrong output still took its time)."""
        return self.error is None and self.wall_s > 0

    @property
    def efficiency(self) -> float | None:
        """The limit ÷ wall. The limit is the time for every item, so for an incomplete run (which gave up on some)
        this is only an upper bound, and never above 1."""
        if self.limit_s is None or self.wall_s <= 0:
            return None
        ratio = self.limit_s / self.wall_s
        return ratio if self.complete else min(ratio, 1.0)

    @property
    def cpu_floor_s(self) -> float | None:
        """The CPU floor: the run's CPU and its service's (when it has one) spread over every core. On cores
        shared with the service, no schedule of this run's work can take less wall time."""
        if self.cpu_s is None or not self.cores:
            return None
        return (self.cpu_s + (self.service_cpu_s or 0.0)) / self.cores

    @property
    def cpu_efficiency(self) -> float | None:
        """``cpu_floor_s`` ÷ wall: 100 % when the run kept every core busy with its own and its service's work."""
        floor = self.cpu_floor_s
        return floor / self.wall_s if floor is not None and self.wall_s > 0 else None

    @property
    def verdict(self) -> str:
        """failed, incomplete, wrong, correct, or unverified (complete, but nothing to check it against)."""
        if self.error is not None:
            return "failed"
        if not self.complete:
            return "incomplete"
        return {True: "correct", False: "wrong"}.get(self.correct, "unverified")  # type: ignore[arg-type]

    @property
    def ok(self) -> bool:
        """A run counts when it finished, every item has a value and the output is not known to be wrong (it
        equals the reference, or there is none to check it against: see ``verdict``)."""
        return self.error is None and self.complete and self.correct is not False

    def to_dict(self, *, with_output: bool = False) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not with_output:
            data.pop("output")
        data["success_rate"] = self.success_rate
        data["throughput"] = self.throughput
        data["efficiency"] = self.efficiency
        data["cpu_floor_s"] = self.cpu_floor_s
        data["cpu_efficiency"] = self.cpu_efficiency
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
