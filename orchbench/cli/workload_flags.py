"""Workload options with a command-line flag of their own (``Option(..., flag="--url")``).

A workload declares the flag; every command that takes ``--workload`` offers it, under "Workload options" in its
help, once the plugins are loaded. ``--url X`` is then the same as ``--set url=X``, except that a workload that
does not declare the flag refuses it by name. The core names no flag and no workload: it offers what the installed
workloads declare.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from orchbench.support.signatures import keyword_option, with_signature

if TYPE_CHECKING:
    from orchbench.harness.plugins import Registry

GIVEN = "workload_flags"  # the keyword that carries the flags' values to with_run_options's wrapper
PANEL = "Workload options"


@dataclass(frozen=True)
class Flag:
    """One flag and the workloads that declare it (for the same option name)."""

    flag: str
    option: str
    help: str
    workloads: tuple[str, ...]

    @property
    def parameter(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def declared_flags(registry: Registry, taken: set[str]) -> list[Flag]:
    """The flags the installed workloads declare. A flag taken by the commands' own options (``taken``), or
    declared by two workloads for different options, is a problem of the later workload and is left out."""
    from orchbench.harness.plugins import PluginProblem

    found: dict[str, Flag] = {}
    for name in registry.names("workload"):
        entry = registry.entries["workload"][name]
        for option_name, option in entry.obj.options.items():
            flag = option.flag
            if flag is None:
                continue
            problem = None
            if not flag.startswith("--") or not flag[2:].replace("-", "_").isidentifier():
                problem = f"workload {name!r}: flag {flag!r} of option {option_name!r} is not a --long-flag"
            elif flag in taken:
                problem = f"workload {name!r}: flag {flag} is an option of orchbench's own"
            elif flag in found and found[flag].option != option_name:
                problem = f"workload {name!r}: flag {flag} is already option {found[flag].option!r} of another workload"
            if problem is not None:
                registry.problems.append(PluginProblem(entry.source, f"{problem}; left out"))
                continue
            known = found.get(flag)
            workloads = (*known.workloads, name) if known else (name,)
            help_text = known.help if known else option.help
            found[flag] = Flag(flag, option_name, help_text, workloads)
    return list(found.values())


def _own_flags(function: Callable[..., Any]) -> set[str]:
    """Every flag a command's own parameters declare (or would get from their names)."""
    taken: set[str] = set()
    for parameter in inspect.signature(function, eval_str=True).parameters.values():
        infos = [m for m in getattr(parameter.annotation, "__metadata__", ()) if hasattr(m, "param_decls")]
        decls = [d for info in infos for d in (info.param_decls or ())]
        taken.update(decls or ["--" + parameter.name.replace("_", "-")])
    return taken


def _with_flags(command: Callable[..., Any], flags: list[Flag]) -> Callable[..., Any]:
    """``command`` (a :func:`with_run_options` wrapper) with one more keyword option per flag; the values given
    reach it as ``workload_flags`` ({flag: value})."""
    added = [
        keyword_option(
            f.parameter,
            str | None,
            typer.Option(
                f.flag,
                help=f"{f.help[:1].upper()}{f.help[1:]} (workload {', '.join(f.workloads)}).",
                rich_help_panel=PANEL,
                show_default=False,
            ),
        )
        for f in flags
    ]
    by_parameter = {f.parameter: f.flag for f in flags}

    def with_flags(**given: Any) -> Any:
        values = {by_parameter[p]: given.pop(p) for p in by_parameter}
        return command(**given, **{GIVEN: {k: v for k, v in values.items() if v is not None}})

    own = list(inspect.signature(command, eval_str=True).parameters.values())
    with_signature(with_flags, [*own, *added], like=command)
    with_flags.without_flags = command  # type: ignore[attr-defined]
    return with_flags


def _commands(app: typer.Typer) -> list[Any]:
    """Every command registered on ``app`` and on its groups."""
    infos = list(app.registered_commands)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            infos += _commands(group.typer_instance)
    return infos


def add_workload_flags(app: typer.Typer, registry: Registry) -> None:
    """Give every command of ``app`` that takes ``--workload`` the flags the installed workloads declare."""
    infos = []
    taken: set[str] = set()
    for info in _commands(app):
        command = getattr(info.callback, "without_flags", info.callback)  # a group's app outlives one build
        info.callback = command
        if "workload" in getattr(command, "run_options", ()):
            infos.append(info)
            taken |= _own_flags(command)
    flags = declared_flags(registry, taken) if infos else []
    for info in infos:
        if flags:
            info.callback = _with_flags(info.callback, flags)
