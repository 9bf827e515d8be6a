"""Run options turned into checked RunSpecs: strategies resolved by name (presets and renames too), ``--set``
routed to its owner, every value checked against its declaration, the input read once, the reference and the
faults checked against the workload, all before the first run."""

from __future__ import annotations

from typing import Any

from orchbench.api import Workload, resolve_options
from orchbench.errors import UsageError
from orchbench.harness.plugins import Registry, get_registry, used
from orchbench.support.renames import current_name
from orchbench.support.suggest import did_you_mean
from orchbench.types import RUN_OPTIONS, SPEC_OPTIONS, RunOptions, RunSpec

SCOPES = ("strategy", "workload", "retry")


def check_value(name: str, value: Any) -> Any:
    """A run option's value (as typer converted it) checked against its declaration; one line naming the flag and
    the accepted values when it does not fit."""
    option = RUN_OPTIONS[name]
    if value is None or option.many:
        return value
    return option.value.parse(name, value, shown=f"{option.flag} {value!r}")


def _split_sets(pairs: list[str], owners: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    """Route each KEY=VALUE to the strategy, workload or retry policy that declares KEY."""
    routed: dict[str, dict[str, str]] = {scope: {} for scope in SCOPES}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE")
        scope, dot, bare = key.partition(".")
        if dot:
            if scope not in SCOPES:
                raise UsageError(f"--set {pair!r}: prefix must be one of {', '.join(SCOPES)}")
            key = bare
            if not any(key in declared for declared in owners[scope]):
                known = sorted({k for declared in owners[scope] for k in declared})
                raise UsageError(f"--set {pair!r}: no {scope} here has option {key!r}{did_you_mean(key, known)}")
        else:
            scopes = [s for s in SCOPES if any(key in declared for declared in owners[s])]
            if not scopes:
                known = sorted({k for s in SCOPES for declared in owners[s] for k in declared})
                raise UsageError(
                    f"--set {pair!r}: no strategy, workload or retry policy here has option "
                    f"{key!r}{did_you_mean(key, known)}"
                )
            if len(scopes) > 1:
                raise UsageError(
                    f"--set {pair!r}: {key!r} is an option of the {' and the '.join(scopes)}; "
                    f"write {scopes[0]}.{key}=… to choose"
                )
            scope = scopes[0]
        routed[scope][key] = value
    return routed


def strategy_names(given: list[str] | None) -> list[str]:
    """Names from ``--strategies``: any mix of ``a b``, ``a,b`` and a repeated flag, in order; every installed
    strategy when none is given. A name given twice, or the flag with no name, is one clear error."""
    names = [n.strip() for value in given or [] for n in value.split(",") if n.strip()]
    if given and not names:
        raise UsageError("--strategies: no strategy named")
    repeated = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if repeated is not None:
        raise UsageError(f"strategy {repeated!r} is given twice")
    return names or get_registry().names("strategy")


def resolve_strategy(name: str, registry: Registry) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A strategy or preset name → (strategy, spec changes, strategy options)."""
    preset = registry.presets().get(name)
    if preset is not None:
        return preset.strategy, dict(preset.spec), dict(preset.strategy_options)
    if name not in registry.entries["strategy"]:
        known = [*registry.entries["strategy"], *registry.presets()]
        raise UsageError(
            f"unknown strategy {name!r}{did_you_mean(name, known)} (available: {', '.join(sorted(known))})"
        )
    return name, {}, {}


def read_input_once(opts: RunOptions) -> None:
    """Replace the options' input by a private copy read now (see :func:`snapshot_input`), remembering its name."""
    if opts.input_path is not None:
        if opts.input_given is None:
            opts.input_given = opts.input_path
        opts.input_path = snapshot_input(opts.input_path)


_SNAPSHOTS: set[str] = set()


def snapshot_input(path: str) -> str:
    """The input, read once here and kept in a private temporary file that every run (each a child process) reads.

    Reading it here checks it before any process starts (one clear line when it is missing, a directory, not
    UTF-8, binary or empty); keeping a copy means every run of a comparison sees the same text, even when the
    file changes or vanishes meanwhile, and standard input (``-``) can be read by several runs.
    """
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from orchbench.support.inputs import read_text

    if path in _SNAPSHOTS:
        return path
    text = read_text(path)
    directory = tempfile.mkdtemp(prefix="orchbench-input-")
    atexit.register(shutil.rmtree, directory, True)
    copy = str(Path(directory, "stdin.txt" if path == "-" else Path(path).name or "input.txt"))
    with open(copy, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    _SNAPSHOTS.add(copy)
    return copy


def given_values(declared: dict[str, Any], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """The values given, each parsed by its declared option (the RunSpec carries them typed: parsed once)."""
    parsed = resolve_options(declared, given, owner)
    return {key: parsed[key] for key in given}


def build_specs(names: list[str], opts: RunOptions) -> list[tuple[str, RunSpec]]:
    """One checked RunSpec per strategy (or preset) name, labelled by that name."""
    registry = get_registry()
    for name in SPEC_OPTIONS:  # a RunOptions built in Python (not by a command) is checked too
        check_value(name, getattr(opts, name))
    if opts.case is not None and opts.input_path is not None:
        raise UsageError("give either --test-case or --input, not both")
    workload_cls = registry.workload(opts.workload)
    policy_cls = registry.retry_policy(opts.retry)
    names = [current_name("strategy", name, registry.renamed_presets(), registry.presets()) for name in names]
    resolved = [(name, *resolve_strategy(name, registry)) for name in names]
    strategy_classes = {strategy: registry.strategy(strategy) for _, strategy, _, _ in resolved}
    preset_policies = [registry.retry_policy(changes["retry"]) for _, _, changes, _ in resolved if "retry" in changes]
    routed = _split_sets(
        opts.sets,
        {
            "strategy": [cls.options for cls in strategy_classes.values()],
            "workload": [workload_cls.options],
            "retry": [policy_cls.options, *(cls.options for cls in preset_policies)],
        },
    )
    scenario = current_name(
        "--scenario", opts.scenario or workload_cls.default_scenario, workload_cls.renamed, workload_cls.scenarios
    )
    if scenario not in workload_cls.scenarios:
        raise UsageError(
            f"workload {workload_cls.name!r} has no scenario {scenario!r}"
            f"{did_you_mean(scenario, workload_cls.scenarios)} "
            f"(scenarios: {', '.join(workload_cls.scenarios)})"
        )
    case = opts.case if opts.input_path is not None or opts.case is not None else workload_cls.default_case
    if case is not None and opts.input_path is None:
        case = current_name("--test-case", case, workload_cls.renamed, workload_cls.cases)
    if case is not None and opts.input_path is None and case not in workload_cls.cases:
        raise UsageError(
            f"workload {workload_cls.name!r} has no test case {case!r}{did_you_mean(case, workload_cls.cases)} "
            f"(cases: {', '.join(workload_cls.cases)})"
        )
    workload_options = dict(routed["workload"])
    apply_flags(opts.flags, workload_cls, workload_options)
    workload_options = given_values(workload_cls.options, workload_options, f"workload {workload_cls.name!r}")
    read_input_once(opts)
    specs = []
    for label, strategy, changes, strategy_options in resolved:
        cls = strategy_classes[strategy]
        given = {**strategy_options, **{k: v for k, v in routed["strategy"].items() if k in cls.options}}
        checked = resolve_options(cls.options, given, f"strategy {strategy!r}")
        spec = RunSpec(
            strategy=strategy,
            workload=opts.workload,
            case=case,
            input_path=opts.input_path,
            scenario=scenario,
            seed=opts.seed,
            fault_rate=opts.fault_rate,
            hang_rate=opts.hang_rate,
            crash_rate=opts.crash_rate,
            latency_scale=opts.latency_scale,
            cpu_ms=opts.cpu_ms,
            retry=opts.retry,
            retry_options=dict(routed["retry"]),
            cache=not opts.no_cache,
            memo=not (opts.no_cache or opts.no_memo),
            strategy_options={k: v for k, v in checked.items() if k in given},
            workload_options=workload_options,
            plugins=used(),
        )
        if changes:
            retry_options = {**changes.pop("retry_options", {}), **routed["retry"]}
            spec = spec.replace(**changes, retry_options=retry_options)
        retry_cls = registry.retry_policy(spec.retry)
        spec.retry_options = given_values(retry_cls.options, spec.retry_options, f"retry policy {spec.retry!r}")
        _check_faults(spec, workload_cls, retry_cls)
        specs.append((label, spec))
    if opts.input_path is not None:
        _check_input(specs[0][1], workload_cls, opts.input_given or opts.input_path)
    if opts.reference is not None:
        path = _check_reference(opts.reference, specs[0][1], workload_cls)
        specs = [(label, spec.replace(reference_path=path)) for label, spec in specs]
    return specs


def _check_reference(path: str, spec: RunSpec, workload_cls: Any) -> str:
    """The reference file checked against this input and these options, in the parent (one line when it does not
    fit); its absolute path, for the runs to read."""
    from pathlib import Path

    from orchbench.harness.verify import check_reference, load_reference
    from orchbench.runtime.cache import ResourceCache

    doc = load_reference(path)
    workload = workload_cls(spec, ResourceCache())
    check_reference(doc, path, workload, workload.load_input())
    return str(Path(path).resolve())


def _check_input(spec: RunSpec, workload_cls: Any, given: str) -> None:
    """The workload's own checks of the input, in the parent: one line naming the user's file, before any run."""
    from orchbench.runtime.cache import ResourceCache

    try:
        workload_cls(spec, ResourceCache()).load_input()
    except UsageError as exc:
        name = "standard input" if given == "-" else given
        raise UsageError(str(exc).replace(str(spec.input_path), name)) from None


def _check_faults(spec: RunSpec, workload_cls: Any, retry_cls: Any) -> None:
    """Fault overrides checked in the parent, so a bad value is one line before any process starts."""
    from orchbench.api import MAX_DURATION_S
    from orchbench.harness.faults import apply_overrides, require_timeout_for_hangs
    from orchbench.runtime.cache import ResourceCache

    profiles = apply_overrides(
        workload_cls(spec, ResourceCache()).task_profiles(spec.scenario), spec, workload_cls.map_task
    )
    for name, profile in profiles.items():
        if max(profile.latency_s, profile.cpu_ms / 1000.0) > MAX_DURATION_S:
            raise UsageError(
                f"task {name!r} would take {max(profile.latency_s, profile.cpu_ms / 1000.0):g} s per "
                f"attempt with these overrides, longer than a day ({MAX_DURATION_S:g} s)"
            )
    require_timeout_for_hangs(profiles, retry_cls(**spec.retry_options).timeout_s)


def apply_flags(given: dict[str, Any], workload_cls: type[Workload], workload_options: dict[str, Any]) -> None:
    """Put the values of workload flags into ``workload_options``; a flag this workload does not declare is one
    clear error."""
    for flag, value in given.items():
        name = next((n for n, o in workload_cls.options.items() if o.flag == flag), None)
        if name is None:
            raise UsageError(f"workload {workload_cls.name!r} takes no {flag}")
        workload_options[name] = value
