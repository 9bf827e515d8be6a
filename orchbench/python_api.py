"""orchbench from Python: :func:`run` and :func:`compare`, the functions the ``run`` and ``compare`` commands call.

(``orchbench.api`` holds the base classes plugins subclass; this module is what a notebook, a script or a test
calls.) Every run is a fresh child process, exactly as on the command line::

    import orchbench
    import my_pipeline                       # a file with an @orchbench.workload function

    result = orchbench.compare(my_pipeline.measure, ["sequential", "asyncio"], iterations=5, input="data.txt")
    print(result.winner)                     # None when no strategy is significantly the fastest
    result.save("results/today.json")        # the same JSON file `orchbench compare` writes

Keyword options are those of the command line, by their long names: ``case``, ``input``, ``scenario``, ``seed``,
``fault_rate``, ``hang_rate``, ``crash_rate``, ``latency_scale``, ``cpu_ms``, ``retry``, ``set`` (a mapping of
``--set`` keys to values), ``cache``, ``memo``, ``reference``, ``plugins`` (files or modules, as ``-p``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchbench.errors import UsageError
from orchbench.types import RUN_OPTIONS, RunOptions, RunResult, RunSpec

if TYPE_CHECKING:
    from orchbench.api import Workload
    from orchbench.results.figures import Report, StrategyRow

# The keyword options: the run options (the workload is an argument of its own), by the name of their long flag
# where their field's differs, the two negative flags said positively; and the plugins to load.
KEYWORDS = {"input_path": "input", "sets": "set", "no_cache": "cache", "no_memo": "memo"}
OPTION_NAMES = (*(KEYWORDS.get(name, name) for name in RUN_OPTIONS if name != "workload"), "plugins")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, SIGHUP) stopped a comparison; ``comparison`` holds the runs that finished."""

    def __init__(self, comparison: Comparison) -> None:
        super().__init__("the comparison was interrupted")
        self.comparison = comparison


@dataclass
class Comparison:
    """A finished comparison: its saved document and the report built from it.

    ``rows`` are the table's rows (fastest first); ``winner`` is the fastest strategy whose runs were all correct
    and complete *and* that is significantly faster than every other such strategy (None otherwise);
    ``correct`` and ``failed`` split the strategies by whether every run was right.
    """

    document: dict[str, Any]
    baseline: str | None = None
    alpha: float = 0.05
    _report: Report | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Comparison:
        """A comparison saved by ``orchbench compare`` or :meth:`save` (every format version is read)."""
        from orchbench.results import document as results

        return cls(results.load(path))

    @property
    def report(self) -> Report:
        """The report the command line renders (rows, notes, environment)."""
        if self._report is None:
            from orchbench.results.figures import build_report

            self._report = build_report([self.document], baseline=self.baseline, alpha=self.alpha)
        return self._report

    @property
    def rows(self) -> list[StrategyRow]:
        return self.report.rows

    @property
    def complete(self) -> bool:
        """False when the comparison was interrupted before every planned run finished."""
        return self.document["settings"].get("complete", True) is not False

    @property
    def winner(self) -> str | None:
        """The fastest strategy with every run right, when it is significantly faster than each other such one."""
        from orchbench.results.stats import compare_samples

        report = self.report
        if report.winner is None:
            return None
        best = next(r for r in report.rows if r.strategy == report.winner)
        rivals = [r for r in report.rows if r is not best and r.wall and not r.flagged]
        if all(compare_samples(r.walls, best.walls, self.alpha).significant for r in rivals):
            return best.strategy
        return None

    @property
    def fastest(self) -> str | None:
        """The fastest strategy with every run right, significant or not (the table's "winner" mark)."""
        return self.report.winner

    @property
    def correct(self) -> list[str]:
        """Strategies whose every measured run was complete and right (fastest first)."""
        return [r.strategy for r in self.rows if not r.flagged]

    @cached_property
    def runs(self) -> dict[str, list[RunResult]]:
        """The measured runs (warm-ups left out) of each strategy, by label, strategies in planned order."""
        from orchbench.results.document import measured_runs

        return measured_runs(self.document)

    @property
    def unsuccessful(self) -> list[str]:
        """Strategies none of whose measured runs was complete and right (a strategy with no run at all too)."""
        planned = dict.fromkeys(slot["strategy"] for slot in self.document["order"] if not slot.get("warmup"))
        return [label for label in planned if not any(run.ok for run in self.runs.get(label, []))]

    def render(self, *, wide: bool = False) -> None:
        """Print the comparison's table on the terminal, as ``orchbench compare`` does (``wide``: every column in
        one table, however wide)."""
        from orchbench.views.terminal import render_table

        render_table(self.report, wide=wide)

    @cached_property
    def failed(self) -> dict[str, str]:
        """Strategies with a wrong, incomplete or failed run (or none at all), each with its first error."""
        runs = self.runs
        planned = dict.fromkeys(s["strategy"] for s in self.document["order"] if not s.get("warmup"))
        from orchbench.results.verdicts import run_problem

        found: dict[str, str] = {}
        for name in planned:
            bad = next((r for r in runs.get(name, []) if not r.ok), None)
            if bad is not None:
                found[name] = run_problem(bad)
            elif not runs.get(name):
                found[name] = "no measured run finished"
        return found

    @property
    def ok(self) -> bool:
        """Every strategy's every run complete and right, and the comparison not interrupted."""
        return self.complete and not self.failed

    def to_dict(self) -> dict[str, Any]:
        """The results document, exactly as saved (``orchbench.comparison`` JSON)."""
        return self.document

    def save(self, path: str | os.PathLike[str], *, exclusive: bool = False) -> Path:
        """Write the results document atomically to ``path`` (``orchbench report`` reads it); the path written.
        ``exclusive``: never over an existing file (a taken name gets -2, -3, ...)."""
        from orchbench.results import document as results

        return results.save(path, self.document, exclusive=exclusive)

    def to_markdown(self) -> str:
        from orchbench.views.markdown import to_markdown

        return to_markdown(self.report)

    def __str__(self) -> str:
        return self.to_markdown()


# --- options ---------------------------------------------------------------------------------------------------


def options_from(workload: str | type[Workload] | None, options: Mapping[str, Any]) -> RunOptions:
    """The command line's RunOptions for these keyword options; a workload class is registered for the runs."""
    from orchbench.harness import plugins
    from orchbench.harness.specs import check_value
    from orchbench.support.suggest import did_you_mean

    unknown = [k for k in options if k not in OPTION_NAMES]
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r}{did_you_mean(unknown[0], OPTION_NAMES)} "
            f"(options: {', '.join(OPTION_NAMES)})"
        )
    given = dict(options)
    plugin_names = given.pop("plugins", None) or []
    if isinstance(plugin_names, str):
        plugin_names = [plugin_names]
    for name in plugin_names:
        if plugins.is_path(str(name)) and not os.path.isfile(name):
            raise UsageError(f"plugin {name}: no such file")
    plugins.use(str(p) for p in plugin_names)
    opts = RunOptions()
    if workload is not None:
        opts.workload = workload if isinstance(workload, str) else workload_plugin(workload)
    sets = given.pop("set", None) or {}
    if not isinstance(sets, Mapping):
        raise UsageError("set= takes a mapping of option names to values, e.g. set={'workers': 4}")
    opts.sets = [f"{key}={_text(value)}" for key, value in sets.items()]
    opts.no_cache = not given.pop("cache", True)
    opts.no_memo = not given.pop("memo", True)
    for key, value in given.items():  # checked as the command line checks its flags' values
        field = "input_path" if key == KEYWORDS["input_path"] else key
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        setattr(opts, field, check_value(field, value))
    return opts


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def workload_plugin(cls: type[Workload]) -> str:
    """Make a workload class (e.g. an ``@orchbench.workload`` function) known to every run's process; its name.

    Its module is loaded as a plugin by each run: the module itself when it registers the class
    (``orchbench_workloads``), else a small generated plugin that imports the module and registers it. A class
    defined in a notebook cell or at the interactive prompt has no module a fresh process could import.
    """
    from orchbench.api import Workload
    from orchbench.harness import plugins

    if not (isinstance(cls, type) and issubclass(cls, Workload)) or not cls.name:
        raise UsageError(f"{cls!r} is not a workload: give a name, or a function decorated with @orchbench.workload")
    known = plugins.get_registry().entries["workload"].get(cls.name)
    if known is not None and known.obj is cls:  # installed, or loaded as a plugin already
        return cls.name
    module = sys.modules.get(cls.__module__)
    source = getattr(module, "__file__", None)
    packaged = cls.__module__ != "__main__" and "." in cls.__module__  # importable by name in any process
    if module is None or not (packaged or source):
        raise UsageError(
            f"workload {cls.name!r} is defined in a notebook or at the prompt, where a fresh process cannot import "
            "it: put it in a .py file, import that, and pass the imported function"
        )
    where = cls.__module__ if packaged else str(Path(str(source)).resolve())
    hook = getattr(module, "orchbench_workloads", None)
    if callable(hook) and cls.__module__ != "__main__" and _registers(hook, cls):
        plugins.use([where])
        return cls.name
    attribute = next((key for key, value in vars(module).items() if value is cls), None)
    if attribute is None:
        raise UsageError(f"workload {cls.name!r} is not a top-level name of {where}, so a fresh process cannot find it")
    plugins.use([_shim(where, attribute)])
    return cls.name


def _registers(hook: Callable[[], Iterable[Any]], cls: type[Workload]) -> bool:
    try:
        return any(getattr(obj, "name", None) == cls.name for obj in hook())
    except Exception:
        return False


def _shim(where: str, attribute: str) -> str:
    """A plugin file (in a private temporary directory) that loads ``where`` and registers its ``attribute``."""
    import atexit
    import hashlib
    import shutil
    import tempfile

    key = hashlib.sha256(f"{where}\0{attribute}".encode()).hexdigest()[:12]
    directory = Path(tempfile.mkdtemp(prefix="orchbench-workload-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / f"orchbench_workload_{key}.py"
    path.write_text(
        "# Registers one workload of a module that does not register it itself (see orchbench.python_api).\n"
        "from orchbench import hookimpl\n"
        "from orchbench.python_api import load_attribute\n\n\n"
        "@hookimpl\n"
        "def orchbench_workloads():\n"
        f"    return [load_attribute({where!r}, {attribute!r})]\n",
        encoding="utf-8",
    )
    return str(path)


def load_attribute(where: str, attribute: str) -> Any:
    """A top-level name of a module given by name or file (for the plugins :func:`workload_plugin` generates)."""
    from orchbench.harness.plugins import _import_module

    _, module = _import_module(where)
    return getattr(module, attribute)


# --- run and compare ---------------------------------------------------------------------------------------------


def run(
    strategy: str,
    workload: str | type[Workload] | None = None,
    *,
    with_output: bool = False,
    debug: bool = False,
    run_options: RunOptions | None = None,
    **options: Any,
) -> RunResult:
    """Run ``strategy`` (a strategy or preset name) once on ``workload``, in a fresh process, verified.

    ``workload`` is a workload's name or an ``@orchbench.workload`` function (default: the anagram pipeline);
    ``options`` as in the module's description. ``with_output`` keeps the run's output in the result.
    ``run_options`` (instead of ``workload`` and ``options``) is how the command line passes what it parsed.
    """
    from orchbench.harness import specs as run_specs
    from orchbench.harness.isolate import run_isolated

    opts = run_options if run_options is not None else options_from(workload, options)
    [(label, spec)] = run_specs.build_specs([strategy], opts)
    result = run_isolated(spec, with_output=with_output, debug=debug)
    if opts.input_given is not None:  # the user's name for the input, not that of the private copy that was run
        result.spec["input_path"] = opts.input_given
    if label != spec.strategy:
        result.label = label
    return result


def compare(
    workload: str | type[Workload] | None = None,
    strategies: Sequence[str] | None = None,
    iterations: int = 5,
    *,
    warmup: int = 1,
    baseline: str | None = None,
    budget: int | None = None,
    tune: str | int | None = None,
    progress: bool = False,
    python: Sequence[str] | str = (),
    run_options: RunOptions | None = None,
    settings: Mapping[str, Any] | None = None,
    **options: Any,
) -> Comparison:
    """Compare ``strategies`` (names of strategies or presets; default: every installed strategy) on ``workload``:
    ``warmup`` unmeasured and ``iterations`` measured runs of each, each in a fresh process, interleaved.

    ``budget`` runs every strategy with that many items in flight; ``tune`` (a number of probe runs, or seconds
    as ``"300s"``) first searches each strategy's knobs for its fastest setting. ``python`` (paths of other
    interpreters) runs every strategy under each of them instead, rows labelled ``NAME pyVERSION`` (orchbench is
    installed for each in a cached virtual environment, see :mod:`orchbench.harness.interpreters`). ``progress``
    prints a line per run on stderr. ``settings`` are recorded with the comparison's own (``{"command": "benchmark"}``).
    Ctrl-C raises :class:`Interrupted`, which carries the runs that finished.
    """
    from orchbench.harness import specs as run_specs

    opts = run_options if run_options is not None else options_from(workload, options)
    if isinstance(strategies, str):
        strategies = [strategies]
    names = run_specs.strategy_names(list(strategies) if strategies is not None else None)
    chosen = pick_baseline(names, baseline)
    document, interrupted = measure(
        names,
        opts,
        iterations,
        warmup,
        chosen,
        not progress,
        dict(settings) if settings is not None else None,
        budget=budget,
        tune=None if tune is None or tune is False else str(tune),
        pythons=[python] if isinstance(python, str) else list(python),
    )
    comparison = Comparison(document, baseline=document["settings"]["baseline"])
    if interrupted:
        raise Interrupted(comparison)
    return comparison


# --- the comparison's machinery (the compare, sweep and benchmark commands use it too) -----------------------


def pick_baseline(names: list[str], wanted: str | None) -> str:
    if wanted is None:
        return "sequential" if "sequential" in names else names[0]
    if wanted not in names:
        raise UsageError(f"baseline strategy {wanted!r} is not among those compared ({', '.join(names)})")
    return wanted


def measure(
    names: list[str],
    opts: RunOptions,
    iterations: int,
    warmup: int,
    baseline: str,
    quiet: bool,
    extra_settings: dict[str, Any] | None = None,
    *,
    budget: int | None = None,
    tune: str | None = None,
    progress: Any = None,
    pythons: Sequence[str] = (),
) -> tuple[dict[str, Any], bool]:
    """Plan and run a comparison (tuned first with ``tune``, a budget of runs or seconds; or every strategy at
    ``budget`` items in flight); return its results document and whether it was interrupted. ``progress``: the
    caller's own progress callback (a sweep's, across its points), which then also warns of a noisy machine."""
    from orchbench.harness import noise
    from orchbench.harness import specs as run_specs
    from orchbench.harness.environment import environment
    from orchbench.harness.interpreters import this_interpreter
    from orchbench.harness.planner import plan
    from orchbench.harness.plugins import get_registry, warn_plugin_problems
    from orchbench.harness.session import run_session
    from orchbench.harness.tune import TuneBudget, TuningInterrupted
    from orchbench.results import fairness
    from orchbench.results.document import make_document
    from orchbench.views.progress import probe_reporter, progress_reporter

    warn_plugin_problems()
    specs = run_specs.build_specs(names, opts)
    order = plan([label for label, _ in specs], iterations, warmup)  # checked before any tuning; the session runs it
    tuning = TuneBudget.parse(tune) if tune is not None else None
    noisy = noise.reasons() if progress is None else []  # before the runs (and tuning), which load the machine
    try:
        specs, fair = fairness.prepare(specs, budget=budget, tune=tuning, progress=partial(probe_reporter, quiet))
        tuning_stopped = False
    except TuningInterrupted as stop:  # the probes measured are kept: saved like any interrupted comparison
        fair, tuning_stopped = stop.record, True
    interpreters = {label: this_interpreter() for label, _ in specs}
    if pythons:
        specs, interpreters, baseline = on_interpreters(specs, pythons, baseline)
    registry = get_registry()
    first = specs[0][1]
    settings = {
        "workload": first.workload,
        "case": first.case,
        "input": opts.input_given,
        "scenario": first.scenario,
        "seed": first.seed,
        "iterations": iterations,
        "warmup": warmup,
        "baseline": baseline,
        "unit": registry.workload(first.workload).unit,
        "specs": {label: spec.to_dict() for label, spec in specs},
        "server": registry.workload(first.workload).service_host(first.workload_options),
        "input_digest": input_digest_of(first),
        "interpreters": interpreters,
        "fairness": fair,
        **(extra_settings or {}),
    }
    if tuning_stopped:
        settings["complete"] = False
        return make_document(settings, order, [], env=environment()), True
    if progress is not None:
        session = run_session(specs, iterations, warmup, progress, with_output="unverified")
    else:
        with progress_reporter(quiet, len(order), order=order) as report:
            session = run_session(specs, iterations, warmup, report, with_output="unverified")
    noise.warn(noisy)
    found = check_agreement([result for slot, result in session.runs if not slot.warmup])
    if found is not None:
        settings["agreement"] = found.to_dict()
    for _slot, result in session.runs:
        result.output = None  # compared above; the saved document keeps digests, not outputs
    settings["complete"] = not session.interrupted
    document = make_document(settings, session.order, session.runs, env=environment())
    return document, session.interrupted


def input_digest_of(spec: Any) -> str | None:
    """The digest of the run's input (as a recorded reference names it); None when it cannot be read here."""
    from orchbench.harness.plugins import get_registry
    from orchbench.harness.verify import input_digest
    from orchbench.runtime.cache import ResourceCache

    try:
        raw = get_registry(spec.plugins).workload(spec.workload)(spec, ResourceCache()).load_input()
    except (UsageError, NotImplementedError, OSError):
        return None
    return input_digest(raw)


def on_interpreters(
    specs: list[tuple[str, RunSpec]], pythons: Sequence[str], baseline: str
) -> tuple[list[tuple[str, RunSpec]], dict[str, dict[str, Any]], str]:
    """Every spec once per interpreter (``compare --python``), labelled ``NAME pyVERSION``; each label's
    interpreter; the baseline's label (under the first interpreter)."""
    from orchbench.harness.interpreters import interpreter_for, short_label

    prepared = [(path, *interpreter_for(path, plugin_distributions(specs))) for path in pythons]
    seen: dict[str, str] = {}
    for path, _, found in prepared:
        tag = short_label(found)
        if tag in seen:
            raise UsageError(f"--python {path} and --python {seen[tag]} are both Python {tag}: give each once")
        seen[tag] = path
    expanded: list[tuple[str, RunSpec]] = []
    interpreters: dict[str, dict[str, Any]] = {}
    for _, executable, found in prepared:
        for label, spec in specs:
            named = f"{label} py{short_label(found)}"
            expanded.append((named, spec.replace(python=executable)))
            interpreters[named] = found
    return expanded, interpreters, f"{baseline} py{short_label(prepared[0][2])}"


def plugin_distributions(specs: list[tuple[str, RunSpec]]) -> list[str]:
    """The installed plugin distributions (besides orchbench) whose strategies or workload these runs use."""
    from orchbench.harness.plugins import BUILTIN_DISTRIBUTION, get_registry

    registry = get_registry()
    found: list[str] = []
    for _, spec in specs:
        for kind, name in (("strategy", spec.strategy), ("workload", spec.workload), ("retry policy", spec.retry)):
            entry = registry.entries[kind].get(name)
            dist = entry.source.distribution if entry is not None else None
            if dist and dist != BUILTIN_DISTRIBUTION and dist not in found:
                found.append(dist)
    return found


def check_agreement(runs: list[Any]) -> Any:
    """Without a reference, the complete outputs of every strategy are compared: a strategy that disagrees has its
    runs marked wrong (``mismatch`` says with whom, and where), so it is never the winner. None when every run
    was checked against a reference."""
    from orchbench.harness.verify import agreement

    unverified = [r for r in runs if r.error is None and r.complete and r.correct is None]
    if not unverified:
        return None
    outputs: dict[str, list[Any]] = {}
    for run in unverified:
        outputs.setdefault(run.name, []).append(run.output)
    found = agreement(outputs)
    for d in found.disagreements:
        for run in unverified:
            if run.name == d.strategy:
                run.correct = False
                run.mismatch = {"against": "agreement", "with": d.other, "count": d.count, "first": d.first}
    return found
