"""Base classes a plugin subclasses: Strategy, Workload, RetryPolicy, and the Option (declared in
:mod:`orchbench.types`, beside the run options made of it) and TaskProfile they declare; and the Task a strategy
receives, as the protocol the harness's task keeps (the contract imports no harness code that could import it
back)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from orchbench.errors import UsageError
from orchbench.types import MAX_DURATION_S as MAX_DURATION_S
from orchbench.types import Option as Option

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager, AbstractContextManager

    from orchbench.runtime.cache import ResourceCache
    from orchbench.runtime.limiter import AttemptSlots
    from orchbench.runtime.workers import Worker, WorkerCounts
    from orchbench.types import Outcome, RunSpec

DEFAULT_RETRY_AFTER_CAP_S = 30.0  # the longest Retry-After a retry policy honours unless it says otherwise
DEFAULT_WAIT_BUDGET_S = 60.0  # the most one item waits between its attempts in all, unless the policy says otherwise


def resolve_options(declared: dict[str, Option], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Defaults overlaid with the given values, each parsed; an unknown key is a UsageError."""
    from orchbench.support.suggest import did_you_mean

    unknown = sorted(set(given) - set(declared))
    if unknown:
        hint = did_you_mean(unknown[0], declared)
        known = ", ".join(sorted(declared)) or "none"
        raise UsageError(f"{owner} has no option {unknown[0]!r}{hint} (its options: {known})")
    values = {name: opt.default for name, opt in declared.items()}
    for name, raw in given.items():
        values[name] = declared[name].parse(name, raw)
    return values


def split_in_flight(n: int, cores: int) -> tuple[int, int]:
    """``n`` items in flight as (processes, items per process): as many processes as cores allow, each holding the
    same share, so that exactly ``n`` are in flight (the most processes, up to ``cores``, that divide ``n``)."""
    processes = max(d for d in range(1, max(1, min(n, cores)) + 1) if n % d == 0)
    return processes, n // processes


@dataclass(frozen=True)
class TaskProfile:
    """How the harness makes one task slow or flaky: latency before the result, fault rates per attempt, CPU cost.

    ``idempotent`` states that running the task twice on one item does no harm (a lookup, a pure request), so a
    retry policy may run a second attempt beside a slow first one (a hedge); it is never assumed.
    """

    latency_s: float = 0.0
    fault_rate: float = 0.0
    hang_rate: float = 0.0
    crash_rate: float = 0.0
    cpu_ms: float = 0.0
    idempotent: bool = False


class Task(Protocol):
    """What ``Strategy.map`` receives: the workload's work for one item, wrapped by orchbench with the run's
    deterministic faults, retry policy and caches. It never raises for an item's failure: the Outcome carries it.
    A worker process builds its own from the spec with ``orchbench.task_for``."""

    @property
    def spec(self) -> RunSpec:
        """The run's spec, as ``start`` received it; after :meth:`declare_in_flight`, the spec that returned."""
        ...

    @property
    def workload(self) -> Workload:
        """The workload instance in this process (e.g. for its ``worker_preload()`` or ``max_in_flight()``)."""
        ...

    @property
    def mostly_waits(self) -> bool:
        """True when an item's time is mostly waiting (a service, a latency) rather than CPU work here."""
        ...

    def useful_in_flight(self, n: int) -> int:
        """Items worth having in flight at once, over every process, for ``n`` items."""
        ...

    def declare_in_flight(self, per_process: int) -> RunSpec:
        """State the most items the strategy runs at once in one process, before the first item runs; return the
        spec to build workers' tasks from."""
        ...

    def run(self, index: int, item: Any, generation: int = 0) -> Outcome:
        """One item's outcome (sync); ``generation`` counts resubmissions after a worker crash."""
        ...

    async def arun(self, index: int, item: Any, generation: int = 0, limiter: AttemptSlots | None = None) -> Outcome:
        """One item's outcome (async); with ``limiter`` every attempt waits for one of its slots."""
        ...

    def run_batch(self, batch: list[tuple[int, Any]], generation: int = 0) -> list[Outcome]:
        """Several (index, item) pairs in turn: the unit to send to a worker."""
        ...

    @property
    def capacity(self) -> int | None:
        """The workload's :attr:`Workload.capacity`: the most items in flight over the whole run (None: no bound)."""
        ...

    def bounded(self, n: int) -> int:
        """``n`` items in flight, but never more than :attr:`capacity`: size defaults with it."""
        ...

    @property
    def timeout_s(self) -> float | None:
        """The run's per-attempt timeout in seconds (its retry policy's), or None: how long one attempt may run,
        e.g. for a pool deciding that a silent worker is lost."""
        ...

    def worker_preload(self) -> list[str]:
        """Modules a process pool's fork server imports before it forks workers: what a worker needs to build the
        Task and the workload's ``worker_preload()``."""
        ...

    capacity_gate: Any
    """The semaphore every attempt in this process takes when the workload has a capacity (None otherwise); a
    strategy of several processes replaces it in each with one they share."""

    @property
    def workers(self) -> WorkerCounts:
        """The worker resources opened and closed in this process (add those of other processes to it)."""
        ...

    def worker(self, threads: int = 0) -> AbstractContextManager[Worker]:
        """The calling thread is one worker for the block: its resource is opened on first use and closed at the
        end of the block, however it ends; async items run on one loop kept for the block. ``threads``: the most
        worker threads for sync calls from an event loop this worker runs."""
        ...

    def async_worker(self, threads: int = 0) -> AbstractAsyncContextManager[Worker]:
        """The running event loop is one worker for the block (its tasks share its resource; sync calls run in up
        to ``threads`` worker threads, each with a resource of its own)."""
        ...

    def make_worker(self, threads: int = 0) -> Worker:
        """A worker to hold outside any block (e.g. a Ray actor's): ``worker.as_current()`` around each call,
        ``close()`` or ``await aclose()`` at the end."""
        ...


class Strategy:
    """How items are executed. Subclass it, set ``name``/``description``/``options``, implement :meth:`map`.

    ``self.options`` holds the option values as given (None where a default is worked out at run time).
    ``start`` is timed apart from the run (e.g. a cluster start-up); everything in ``map`` counts toward wall time.

    For fair comparisons ``map`` records what it actually used: ``in_flight``, the most items it let be in
    flight at once, and ``resolved``, its options with every default filled in (both reported with the run).
    Defaults size themselves from what the workload declares (``task.mostly_waits``, ``task.useful_in_flight(n)``),
    and ``map`` tells the workload what it will run at once per process (``task.declare_in_flight(k)``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: dict[str, Any] = {}  # on the class: the declared Options; on an instance: their parsed values

    in_flight: int | None = None

    def __init__(self, **options: Any) -> None:
        self.options = resolve_options(type(self).options, options, f"strategy {self.name!r}")
        self.resolved: dict[str, Any] = dict(self.options)

    @classmethod
    def budget(cls, n: int, cores: int) -> dict[str, Any] | None:
        """The options under which this strategy keeps exactly ``n`` items in flight at once on ``cores`` CPUs
        (``compare --budget``); None when it cannot (e.g. one item at a time)."""
        return None

    def start(self, spec: RunSpec) -> None:
        """Acquire long-lived resources; its time is reported as start-up, not as wall time."""

    def map(self, task: Task, items: Sequence[Any]) -> list[Outcome]:
        """Run ``task`` on every item; return one Outcome per item, in input order."""
        raise NotImplementedError

    def stop(self) -> None:
        """Release what ``start`` acquired. Always called, also after an error."""

    def stats(self) -> dict[str, Any]:
        """Figures the strategy gathered during the last ``map`` (e.g. an adaptive limit's trajectory)."""
        return {}


class Workload:
    """Input → items → one value per item → output, plus the reference output and the time limit.

    A workload instance is built from the RunSpec in every process that needs it; ``resources`` is that
    process's cache for expensive, read-only things (e.g. a dictionary).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    unit: ClassVar[str] = "items"
    cases: ClassVar[dict[str, str]] = {}
    default_case: ClassVar[str | None] = None
    scenarios: ClassVar[dict[str, str]] = {"none": "no latency, no faults"}
    default_scenario: ClassVar[str] = "none"
    options: dict[str, Any] = {}  # on the class: the declared Options; on an instance: their parsed values
    map_task: ClassVar[str] = "map"
    # the workload's own exceptions worth retrying (orchbench.TransientError always is); adaptive concurrency
    # takes them as back-pressure
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    items_wait: ClassVar[bool] = False  # an item's time is mostly waiting on something outside (a service)
    # an item is a sync call that an event loop runs in a thread of its own (an @orchbench.workload on a sync
    # function): an async strategy sizes its concurrency as the threads strategy sizes its threads
    sync_calls: ClassVar[bool] = False
    answer_options: ClassVar[tuple[str, ...]] = ()  # options that change the output (saved with a reference)
    renamed: ClassVar[dict[str, str]] = {}  # old case or scenario name -> its new name (still accepted, deprecated)
    # The most items the strategy runs at once in this process, as it declared (Task.declare_in_flight), set by
    # the harness before the first item; None when it declared nothing. Size per-process resources from it.
    in_flight_per_process: int | None = None
    # The most items the service or resource takes at once: every strategy keeps at most this many in flight over
    # the whole run (all its threads, loops and processes), and sizes its defaults from it. None: no bound known.
    capacity: ClassVar[int | None] = None
    _worker_counts: Any = None  # the harness's count of worker resources opened and closed in this process

    def __init__(self, spec: RunSpec, resources: ResourceCache) -> None:
        self.spec = spec
        self.resources = resources
        self.options = resolve_options(type(self).options, spec.workload_options, f"workload {self.name!r}")

    def task_profiles(self, scenario: str) -> dict[str, TaskProfile]:
        """The latency and fault profile of each task under ``scenario`` (before command-line overrides)."""
        return {}

    def load_input(self) -> Any:
        """Read the raw input from ``spec.case`` or ``spec.input_path``; raise UsageError when unusable."""
        raise NotImplementedError

    def start(self) -> dict[str, Any]:
        """Start what the run needs (e.g. a server), in the run's process; return what this workload's copies in
        other processes (pool workers, Ray actors) must know of it, e.g. ``{"url": ...}`` of the server it started.
        They read it as ``self.spec.started`` (plain, JSON-able data; this instance keeps its own state)."""
        return {}

    def stop(self) -> None:
        """Stop what ``start`` started. Always called."""

    def stats(self) -> dict[str, Any]:
        """Figures the workload gathered during the run (e.g. what a server saw)."""
        return {}

    @classmethod
    def format_stats(cls, stats: dict[str, Any]) -> list[tuple[str, str]]:
        """The stats of :meth:`stats` (as saved with the run) as (label, text) lines for ``orchbench run``.

        By default one line per key: ``*_s`` numbers as durations, integers as counts, ``by_*`` mappings as
        tallies (``200 × 508 · 503 × 9``); see :func:`orchbench.support.units.figure`. Override it to group or name
        them better, and keep a line for every key you do not know, so that nothing is hidden."""
        from orchbench.support import units

        return [(units.label(key), units.figure(key, value)) for key, value in stats.items()]

    def service_pids(self) -> list[int]:
        """Processes ``start`` launched that stand for the outside world (e.g. a server): not measured."""
        return []

    @classmethod
    def service_host(cls, options: Mapping[str, Any]) -> str | None:
        """Where a run with these workload options (as given) sends its items when that is an outside service the
        user named, e.g. the host of a ``--url``: shown as the run's server and recorded with its results. None
        (the default) when the run calls nothing outside, or only what it started itself."""
        return None

    def warm(self) -> None:
        """Load what every item needs (into ``resources``), once per process before its first timed attempt, so
        that a slow first load is not taken for a hung attempt. By default nothing."""

    def prepare(self, raw: Any, stage: Any) -> list[Any]:
        """Turn the raw input into items. ``stage(task_name, fn, arg)`` runs a prepare task under faults/retry."""
        return list(raw)

    def item_key(self, item: Any) -> Any:
        """Items with equal keys have equal values (used to run duplicates once)."""
        return item

    def map_item(self, item: Any) -> Any:
        """Compute one item's value (sync form)."""
        raise NotImplementedError

    async def amap_item(self, item: Any) -> Any:
        """Compute one item's value (async form); by default the sync form, for CPU-light work."""
        return self.map_item(item)

    def reduce(self, values: list[Any]) -> Any:
        """Combine the values of every item, in input order, into the output."""
        return values

    def reference(self, raw: Any) -> Any:
        """The expected output, computed independently of the tasks and without faults; None when the workload
        cannot know it (e.g. an outside service's answers): runs are then *unverified* unless a reference
        recorded by ``orchbench reference record`` is given."""
        return None

    def worker_preload(self) -> list[str]:
        """Modules a process pool's fork server imports once, before it forks the workers (e.g. one that builds a
        read-only index at import), so that every worker inherits what they hold instead of building it again."""
        return []

    def max_in_flight(self) -> int | None:
        """How many items are worth having in flight at once, across all processes, when items mostly wait on
        something outside (e.g. a server's capacity); None when no such bound is known. Strategies size their
        default concurrency from it (never above :attr:`capacity`)."""
        return None

    def worker_factory(self) -> Any:
        """The resource each worker (a thread, a process, an event loop, a Ray actor) holds while items flow: write
        it as a generator method that sets the resource up, yields it once and tears it down after the
        ``yield`` (an ``async def`` generator for a resource bound to the event loop that uses it). Every strategy
        opens one per worker, when its first item asks for it, and closes every one it opened, also when the run
        fails or is interrupted. By default None: no resource."""
        return None

    def worker_resource(self) -> Any:
        """From :meth:`map_item`: the resource of the worker running it (opened now on first use)."""
        from orchbench.runtime.workers import current

        return current(self).resource()

    async def aworker_resource(self) -> Any:
        """From :meth:`amap_item`: the resource of the event loop running it (opened on that loop on first use)."""
        from orchbench.runtime.workers import current

        return await current(self).aresource()

    def limit_s(self, raw: Any, items: list[Any], faults: Any) -> float | None:
        """The best possible wall time for these (distinct) items, or None when unknown. ``faults`` is the run's
        FaultModel: ``faults.profiles``, ``faults.latency(task)``, ``faults.attempts_to_succeed(task, index)``."""
        return None


class RetryPolicy:
    """One attempt loop: when to stop, how long to wait, which per-attempt timeout. Built on tenacity.

    Subclass it, set ``name``/``description``/``options``, implement :meth:`stop` and :meth:`wait`. The loops
    (:mod:`orchbench.harness.attempts`, and :mod:`orchbench.harness.hedge` for hedging) call only the members
    declared here; every one but ``stop`` and ``wait`` has a default that does not hedge.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: dict[str, Any] = {}  # on the class: the declared Options; on an instance: their parsed values

    def __init__(self, **options: Any) -> None:
        self.options = resolve_options(type(self).options, options, f"retry policy {self.name!r}")

    @property
    def timeout_s(self) -> float | None:
        """Per-attempt timeout in seconds, or None: the ``timeout`` option by default."""
        return self.options.get("timeout")

    @property
    def retry_after_cap_s(self) -> float:
        """The longest wait a failure may ask for (``retry_after``, a ``Retry-After`` header) and be honoured; an
        item asked to wait longer fails at once. The ``retry_after_cap`` option, else 30 s."""
        value = self.options.get("retry_after_cap")
        return DEFAULT_RETRY_AFTER_CAP_S if value is None else float(value)

    @property
    def wait_budget_s(self) -> float:
        """The most seconds one item may wait between its attempts in all (backoffs and asked waits); an asked
        wait beyond what is left fails the item at once. The ``wait_budget`` option, else 60 s."""
        value = self.options.get("wait_budget")
        return DEFAULT_WAIT_BUDGET_S if value is None else float(value)

    @property
    def max_attempts(self) -> int | None:
        """Most attempts of one item, hedges included, or None: the ``max_attempts`` option by default. The
        hedged loop stops at it (plain loops stop only where :meth:`stop` says)."""
        return self.options.get("max_attempts")

    def stop(self) -> Any:
        """A tenacity stop condition."""
        raise NotImplementedError

    def wait(self) -> Any:
        """A tenacity wait strategy (never shorter than a ``retry_after`` the failure carries)."""
        raise NotImplementedError

    @property
    def hedge_copies(self) -> int:
        """Most attempts of one item in flight at once (the first one included); above 1 the policy hedges."""
        return 1

    def hedge_delay(self) -> float | None:
        """Seconds an attempt may run before another starts beside it (a hedge); None: not now (asked again while
        the race runs).

        Only async strategies hedge, and only tasks whose profile is ``idempotent``."""
        return None

    @property
    def hedge_spare_only(self) -> bool:
        """True: a hedge starts only into spare room, under a strategy's attempt limit a free slot that no item's
        first attempt waits for (the tail of a run), so hedges never delay new items. By default False."""
        return False

    def observe(self, seconds: float) -> None:
        """A hedged loop's attempt succeeded in ``seconds`` (e.g. for a latency quantile). By default nothing."""

    def launched(self, hedge: bool) -> None:
        """A hedged loop started an attempt (``hedge``: beside a slower one). By default nothing."""

    def hedge_ended(self) -> None:
        """An attempt started as a hedge ended, however it ended. By default nothing."""
