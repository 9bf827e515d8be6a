# mypy: disable-error-code="empty-body"
# (a hookspec is a declaration: pluggy calls the plugins' implementations, never its body)
"""The plugin contract. A plugin is a module (or object) with functions marked ``@orchbench.hookimpl``.

Register it under the ``orchbench`` entry-point group of your distribution::

    [project.entry-points.orchbench]
    myplugin = "my_package.plugin"

Each hook but :func:`orchbench_commands` returns a list; orchbench gathers the lists of every plugin. Names must be
unique across all plugins: a second plugin supplying a taken name is reported (naming both sources) and skipped.

Hook API version: ``HOOK_API_VERSION``. It changes only when a hook's meaning changes; adding a hook does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from orchbench.api import RetryPolicy, Strategy, Workload
    from orchbench.presets import Preset

PROJECT = "orchbench"
HOOK_API_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def orchbench_strategies() -> list[type[Strategy]]:
    """Return the strategy classes this plugin supplies.

    A strategy decides only *how* items run: :meth:`orchbench.Strategy.map` receives a ready task (faults,
    retry policy and caches already applied) and returns one :class:`orchbench.Outcome` per item, in order.
    """


@hookspec
def orchbench_workloads() -> list[type[Workload]]:
    """Return the workload classes this plugin supplies.

    A workload turns an input into items, maps one item to a value, reduces values to an output, and computes
    the reference output independently (see :class:`orchbench.Workload`).
    """


@hookspec
def orchbench_retry_policies() -> list[type[RetryPolicy]]:
    """Return the retry policy classes this plugin supplies (see :class:`orchbench.RetryPolicy`)."""


@hookspec
def orchbench_presets() -> list[Preset]:
    """Return the presets this plugin supplies: instances of :class:`orchbench.Preset`, each a strategy with fixed
    settings under a name of its own (a name no strategy has), usable wherever a strategy name is."""


@hookspec
def orchbench_commands(app: typer.Typer) -> None:
    """Add this plugin's commands to the ``orchbench`` command line: register them on ``app`` as on any typer app
    (``app.command("name")(function)``, or ``app.add_typer(sub_app, name="name")`` for a group).

    ``app`` is a fresh typer app of the plugin's own; orchbench copies its commands into the CLI. A command whose
    name is taken (by orchbench's own commands or by an earlier plugin) is reported and skipped, as is every
    command of a hook that raises. Called only by the command line, once per process, before it parses the
    arguments: keep it cheap and import the command's heavy dependencies inside the command.
    """
