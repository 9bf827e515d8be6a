"""What the run-like commands share: their options, and turning those options into checked RunSpecs."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import typer

from orchbench.cli import workload_flags
from orchbench.harness.specs import check_value
from orchbench.types import RUN_OPTIONS, RunOption, RunOptions

# What a value looks like, where the type's name would not say it (typer shows a list as <list[str]>)
METAVARS = {"--set": "<key=value>"}


def cli_annotation(option: RunOption) -> Any:
    """The type typer reads for a run option: its Python type and its flags and help."""
    python_type: Any = list[str] if option.many else option.value.type
    if option.value.default is None and not option.many:
        python_type = python_type | None
    return Annotated[
        python_type, typer.Option(*option.flags, help=option.value.help, metavar=METAVARS.get(option.flag))
    ]


def with_run_options(*, only: Iterable[str] | None = None, **defaults: Any) -> Callable[..., Any]:
    """Give a command the run options of :data:`RUN_OPTIONS` (all, or ``only`` these, with other ``defaults``) as
    its command-line options, where its ``opts`` parameter stands; typer sees them as declared there, and the
    command receives them as one ``RunOptions``, every value checked against its declaration."""
    chosen = [name for name in RUN_OPTIONS if only is None or name in only]
    unknown = set(defaults) - set(chosen)
    if unknown:
        raise TypeError(f"defaults for options the command does not take: {', '.join(sorted(unknown))}")
    options = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=cli_annotation(RUN_OPTIONS[name]),
            default=defaults.get(name, None if RUN_OPTIONS[name].many else RUN_OPTIONS[name].value.default),
        )
        for name in chosen
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        if "opts" not in signature.parameters:
            raise TypeError(f"{command.__name__} has no opts parameter to put the run options in")
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():  # keyword-only: typer passes them all by name
            parameters += options if parameter.name == "opts" else [parameter.replace(kind=parameter.KEYWORD_ONLY)]

        @functools.wraps(command)
        def with_options(**given: Any) -> Any:
            values = {p.name: check_value(p.name, given.pop(p.name)) for p in options}
            flags = given.pop(workload_flags.GIVEN, {})  # see workload_flags: the workloads' own flags
            return command(opts=RunOptions(**{k: v for k, v in values.items() if v is not None}, flags=flags), **given)

        with_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in parameters}
        with_options.__annotations__["return"] = signature.return_annotation
        with_options.run_options = [p.name for p in options]  # type: ignore[attr-defined]
        return with_options

    return decorate


def strategies_option(doing: str) -> Any:
    """The ``--strategies`` option of a command that runs several strategies, ``doing`` what it does with them (read
    by :func:`strategy_names`)."""
    return typer.Option(
        "--strategies",
        "--strategy",
        "-s",
        metavar="<names>",
        help=f"Strategies or presets to {doing}: space- or comma-separated after one flag, or the flag repeated "
        "(default: every installed strategy).",
    )
