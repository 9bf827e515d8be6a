"""The command line's click group, whose commands are built when first looked up.

typer turns each command's function into a click command (its options, their types, its help) when the group is
built: for every command, though one invocation runs one. Here each command of the group is built the first time
the group looks it up — ``orchbench list`` builds ``list`` only; ``--help``, which lists them all, builds all.
Registering every command still happens up front (a plugin's command or flag that clashes is reported whatever
runs); only typer's building is put off. Command groups (``reference``) are built at once, as typer does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from functools import partial
from typing import Any

import typer


class CommandsBuiltOnUse(MutableMapping[str, Any]):
    """A group's commands by name, in registration order; each is built by its function on first lookup."""

    def __init__(self) -> None:
        self._names: dict[str, None] = {}  # every name, in order
        self._built: dict[str, Any] = {}
        self._pending: dict[str, Callable[[], Any]] = {}

    def add_pending(self, name: str, build: Callable[[], Any]) -> None:
        self._names[name] = None
        self._built.pop(name, None)
        self._pending[name] = build

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            build = self._pending.pop(name)  # KeyError for a name it does not have, as a dict
            self._built[name] = build()
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._names[name] = None
        self._pending.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._names[name]
        self._pending.pop(name, None)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def built(self) -> list[str]:
        """The names of the commands built so far."""
        return [name for name in self._names if name in self._built]


def click_group(app: typer.Typer) -> Any:
    """``typer.main.get_command(app)`` for an app with a root callback, its commands built on first lookup."""
    commands = app.registered_commands
    app.registered_commands = []  # typer builds the group, its root options and its command groups
    try:
        group: Any = typer.main.get_command(app)
    finally:
        app.registered_commands = commands
    lazy = CommandsBuiltOnUse()
    build = partial(
        typer.main.get_command_from_info,
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )
    for info in commands:  # typer's order: the commands, then the groups
        name = info.name or typer.main.get_command_name(getattr(info.callback, "__name__", ""))
        lazy.add_pending(name, partial(build, info))
    for name, command in group.commands.items():
        lazy[name] = command
    group.commands = lazy
    return group
