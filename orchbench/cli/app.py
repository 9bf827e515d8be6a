"""The ``orchbench`` command line: thin — it parses, calls, renders. Each command lives in ``orchbench.cli``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError  # typer carries its own click and does not re-export it
from typer.exceptions import Abort, TyperException

from orchbench.cli import lazy_coercion
from orchbench.cli.built_on_use import click_group
from orchbench.cli.help_format import CommandGroup
from orchbench.errors import UsageError

if TYPE_CHECKING:
    from orchbench.harness.plugins import Registry

APP_SETTINGS: dict[str, Any] = {
    "cls": CommandGroup,
    "name": "orchbench",
    "help": "Benchmark pipeline orchestration strategies: same workload, same faults, verified outputs, "
    "honest numbers.",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,  # click's plain help: wraps whole words at any width, shows no type after a flag
}

MULTI_VALUE_OPTIONS = ("--strategies", "--strategy", "-s")
OPTIONAL_VALUE_OPTIONS = ("--html",)  # bare, they mean "the default place"
PLUGIN_OPTIONS = ("-p", "--plugin")
ROOT_FLAGS = ("--debug", "--no-project")  # root flags allowed after the command too
# Commands that never run a project's code: its [tool.orchbench] plugins are not imported for them (nor for
# --version and --help), and a broken table only warns.
WITHOUT_PROJECT_CODE = ("report", "serve", "check")


@dataclass
class CliState:
    """What the root options of the running invocation set (its root callback sets them; :func:`main` starts
    each invocation from the defaults)."""

    debug: bool = False


state = CliState()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # the installed distribution's (the façade sits above this layer)

        typer.echo(f"orchbench {version('orchbench')}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    no_project: Annotated[
        bool,
        typer.Option(
            "--no-project",
            help="Ignore the project file (the tool.orchbench table of the nearest pyproject.toml): neither its "
            "plugins nor its defaults. Also ORCHBENCH_NO_PROJECT=1.",
        ),
    ] = False,
    plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--plugin",
            "-p",
            metavar="<file|module>",
            help="Load a plugin from a Python file or an importable module, without installing it "
            "(repeatable; allowed before or after any command).",
        ),
    ] = None,
) -> None:
    """Benchmark pipeline orchestration strategies."""
    state.debug = debug


COMMAND_MODULES = ("list_cmd", "run", "compare", "sweep", "profile", "reference", "history")


def build_app(registry: Registry | None = None) -> typer.Typer:
    """The typer app: orchbench's own commands, then those the plugins of ``registry`` add (``orchbench_commands``),
    and the flags its workloads declare on every command that takes ``--workload``."""
    import importlib

    lazy_coercion.defer()  # pydantic only for a command that converts a value given to it
    app = typer.Typer(**APP_SETTINGS)
    app.callback()(_root)
    for name in COMMAND_MODULES:
        importlib.import_module(f"orchbench.cli.{name}").register(app)
    if registry is not None:
        from orchbench.cli.workload_flags import add_workload_flags

        _add_plugin_commands(app, registry)
        add_workload_flags(app, registry)  # e.g. --url: options that workloads give a flag of their own
    return app


def _command_name(info: Any) -> str:
    """The name a registered typer command or group is invoked by."""
    if isinstance(info, typer.models.TyperInfo):
        return info.name or (info.typer_instance.info.name if info.typer_instance else None) or ""
    return info.name or typer.main.get_command_name(info.callback.__name__)


def _add_plugin_commands(app: typer.Typer, registry: Registry) -> None:
    """Each plugin's commands, registered on a typer app of its own and copied into ``app`` unless the name is
    taken; a hook that raises, or a taken name, is a problem of that plugin (shown by ``orchbench list``)."""
    from orchbench.harness.plugins import PluginProblem

    owners: dict[str, str] = {_command_name(i): "orchbench" for i in [*app.registered_commands, *app.registered_groups]}
    for source, hook in registry.command_hooks:
        own = typer.Typer()
        try:
            hook(app=own)
        except Exception as exc:  # a broken plugin must not break the command line
            registry.problems.append(PluginProblem(source, f"orchbench_commands() raised {type(exc).__name__}: {exc}"))
            continue
        for kind, infos, target in (
            ("command", own.registered_commands, app.registered_commands),
            ("command group", own.registered_groups, app.registered_groups),
        ):
            for info in infos:
                name = _command_name(info)
                if name in owners:
                    registry.problems.append(
                        PluginProblem(source, f"{kind} {name!r} is already supplied by {owners[name]}; skipped")
                    )
                    continue
                owners[name] = str(source)
                target.append(info)  # type: ignore[arg-type]


_commands: dict[int, Any] = {}


def _command() -> Any:
    """The click command of the app for this process's plugins, built once per set of plugins."""
    from orchbench.harness.plugins import get_registry

    registry = get_registry()
    if id(registry) not in _commands:  # registries are cached for the life of the process: their ids stay unique
        _commands[id(registry)] = click_group(build_app(registry))
    return _commands[id(registry)]


def expand_multi_values(argv: list[str]) -> list[str]:
    """``--strategies a b c`` → ``--strategies a --strategies b --strategies c`` (an option takes one value per flag);
    a bare ``--html`` gets an empty value."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        out.append(arg)
        i += 1
        if arg in OPTIONAL_VALUE_OPTIONS and (i == len(argv) or argv[i].startswith("-")):
            out.append("")
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


def root_flags_first(argv: list[str]) -> list[str]:
    """``run x --debug`` → ``--debug run x``: a root flag given after the command (before ``--``), moved to where
    typer parses it."""
    end = argv.index("--") if "--" in argv else len(argv)
    head = argv[:end]
    return [a for a in head if a in ROOT_FLAGS] + [a for a in head if a not in ROOT_FLAGS] + argv[end:]


def extract_plugins(argv: list[str]) -> tuple[list[str], list[str]]:
    """``-p X``, ``--plugin X`` and ``--plugin=X`` anywhere before ``--`` → (the other arguments, the plugins)."""
    rest: list[str] = []
    found: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in PLUGIN_OPTIONS:
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs a plugin file or module name")
            found.append(argv[i + 1])
            i += 2
            continue
        if arg.startswith("--plugin="):
            found.append(arg.partition("=")[2])
        else:
            rest.append(arg)
        i += 1
    return rest, found


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and a non-zero status (tracebacks only with --debug).

    Ctrl-C and SIGTERM take the same clean-up path; the status is 130 after Ctrl-C and 143 after SIGTERM.
    """
    from orchbench.harness import overwrite, plugins, project
    from orchbench.support import interrupts

    restore: Any = None
    restore_warnings: Any = None
    try:  # from the moment the handlers are in: a signal right after is a KeyboardInterrupt caught below
        restore = interrupts.install()
        restore_warnings = _warnings_as_lines()
        with plugins.command_scope():  # its -p and project plugins are this command's
            return _main(argv)
    except KeyboardInterrupt:  # between the commands' own handlers, e.g. while the CLI starts
        return _interrupted()
    finally:
        if restore_warnings is not None:
            restore_warnings()
        if restore is not None:
            restore()
        overwrite.forget()  # what this command read protects nothing after it (the Python API in this process)
        project.use(None)


def _warnings_as_lines() -> Any:
    """Python warnings (matplotlib's about a name's glyphs, a library's deprecations) shown as one plain line each,
    once, as text (:func:`orchbench.support.console.say`), instead of Python's raw two-line form with the source line;
    returns the function that puts the previous display back."""
    import warnings

    from orchbench.support.console import say

    previous = warnings.showwarning
    shown: set[str] = set()

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        text = f"{category.__name__}: {message}" if category is not UserWarning else str(message)
        if text not in shown:
            shown.add(text)
            say(f"orchbench: warning: {text}")

    warnings.showwarning = show

    def put_back() -> None:
        warnings.showwarning = previous

    return put_back


def _interrupted() -> int:
    from orchbench.support import interrupts
    from orchbench.support.console import say

    say(f"orchbench: {interrupts.describe()}")
    return interrupts.exit_status()


def command_word(args: list[str]) -> str | None:
    """The command an argument list invokes (its first word that is not an option), or None."""
    for arg in args:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def _project_config(args: list[str], word: str | None) -> tuple[Any, bool]:
    """The project's configuration this invocation uses (or None), and whether its plugins load: only a command
    that runs or lists workloads imports them — never ``--version``, ``--help``, ``report``, ``serve`` or
    ``check``, for which a broken table is a warning, not an error."""
    from orchbench.harness import project
    from orchbench.support.console import say

    head = args[: args.index("--")] if "--" in args else args
    if "--no-project" in head or project.ignored() or word is None or "--help" in head:
        return None, False
    runs_code = word not in WITHOUT_PROJECT_CODE
    try:
        config = project.load_config()
    except UsageError as exc:
        if runs_code:
            raise
        say(f"orchbench: warning: ignoring the project file: {exc}")
        return None, False
    return config, runs_code


def _use_plugins_and_project(args: list[str]) -> tuple[Any, dict[str, Any] | None]:
    """Load the plugins of ``-p/--plugin`` and, for a command that runs or lists workloads, of ``[tool.orchbench]``;
    the command line with their commands, and the project's defaults as click's map."""
    from orchbench.harness import plugins, project
    from orchbench.support.console import say

    args, named = extract_plugins(args)
    word = command_word(args)
    if word is None and "--version" in args:  # nothing to load: not even the installed plugins
        return typer.main.get_command(build_app(None)), None
    config, with_plugins = _project_config(args, word)
    project.use(config)
    loaded: list[str] = []
    if config is not None:
        if with_plugins:
            loaded = plugins.project_selection(config.plugins)
            plugins.use(loaded)
    for name in named:
        if plugins.is_path(name) and not os.path.isfile(name):
            raise UsageError(f"--plugin {name}: no such file")
    plugins.use(named)
    command = _command()
    if config is None:
        return command, None
    mapping = project.default_map(command, config, strict=with_plugins, invoked=word) if config.defaults else None
    skipped = len(config.plugins) - len(loaded) if with_plugins else 0
    parts = [", ".join(os.path.relpath(p, config.path.parent) if plugins.is_path(p) else p for p in loaded)]
    parts += [f"{skipped} left out by {plugins.ENV_VAR}"] if skipped else []
    if loaded or skipped or mapping:  # the file counted: it is named (and saved with the results)
        say(
            f"orchbench: project: {config.path}"
            + (f" (plugins: {'; '.join(p for p in parts if p)})" if loaded or skipped else "")
        )
    else:
        project.use(None)
    return command, mapping


def _main(argv: list[str] | None) -> int:
    from orchbench.support.console import say, say_traceback

    args = root_flags_first(expand_multi_values(list(sys.argv[1:] if argv is None else argv)))
    state.debug = False  # until the root callback sets it: an error before typer parsed the line shows one line
    try:
        command, default_map = _use_plugins_and_project(args)
        args, _ = extract_plugins(args)
        status = command.main(args=args, prog_name="orchbench", standalone_mode=False, default_map=default_map)
    except NoArgsIsHelpError as exc:  # a bare command: its help is the answer, on stdout as --help prints it
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        return exc.exit_code
    except TyperException as exc:  # bad command-line usage: typer's message, as one line
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = " ".join(exc.format_message().split())
        say(f"orchbench: error: {message}{hint}")
        return exc.exit_code
    except (Abort, KeyboardInterrupt):
        return _interrupted()
    except UsageError as exc:
        if state.debug:
            say_traceback(exc)
        say(f"orchbench: error: {exc}")
        return 2
    except Exception as exc:
        if state.debug:
            say_traceback(exc)
            return 1
        say(f"orchbench: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1
    if status == 130:  # typer's status after Ctrl-C, or a command's that kept partial results (and said where)
        return _interrupted()
    return status if isinstance(status, int) else 0
