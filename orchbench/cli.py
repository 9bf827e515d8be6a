"""The ``orchbench`` command line: thin — it parses, calls, renders. Each command lives in ``orchbench.commands``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.exceptions import Abort, TyperException

from orchbench import __version__
from orchbench.errors import UsageError

app = typer.Typer(
    name="orchbench",
    help="Benchmark pipeline orchestration strategies: same workload, same faults, verified outputs, honest numbers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MULTI_VALUE_OPTIONS = ("--strategies",)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orchbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """Benchmark pipeline orchestration strategies."""


COMMAND_MODULES = ("list_cmd", "run", "compare", "benchmark", "serve", "profile")


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"orchbench.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"orchbench.commands.{name}":
                raise
            continue
        module.register(app)


def expand_multi_values(argv: list[str]) -> list[str]:
    """``--strategies a b c`` → ``--strategies a --strategies b --strategies c`` (an option takes one value per flag)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        out.append(arg)
        i += 1
        if arg in MULTI_VALUE_OPTIONS:
            first = True
            while i < len(argv) and not argv[i].startswith("-"):
                if not first:
                    out.append(arg)
                out.append(argv[i])
                first = False
                i += 1
        if arg == "--":
            out.extend(argv[i:])
            break
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and a non-zero status (tracebacks only with --debug)."""
    args = expand_multi_values(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args
    _register_commands()
    try:
        status = app(args=args, prog_name="orchbench", standalone_mode=False)
    except TyperException as exc:  # bad command-line usage, reported by typer with its own message
        show = getattr(exc, "show", None)
        show() if show else print(f"orchbench: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except (Abort, KeyboardInterrupt):
        print("orchbench: interrupted", file=sys.stderr)
        return 130
    except UsageError as exc:
        if debug:
            raise
        print(f"orchbench: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if debug:
            raise
        print(f"orchbench: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
    if status == 130:  # typer turns Ctrl-C into this status
        print("orchbench: interrupted", file=sys.stderr)
    return status if isinstance(status, int) else 0
