"""The command line's click group, whose commands are built when first looked up.

typer turns each command's function into a click command (its options, their types, its help) when the group is
built: for every command, though one invocation runs one. Here each command of the group is built the first time
the group looks it up — ``orchbench list`` builds ``list`` only — and ``--help`` lists the commands from their
names and help texts alone. Registering every command still happens up front (a plugin's command or flag that
clashes is reported whatever runs); only typer's building is put off. Command groups (``reference``) are built at
once, as typer does.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer


class CommandsBuiltOnUse(MutableMapping[str, Any]):
    """A group's commands by name, in registration order; a registered one (its typer ``CommandInfo``) is built
    on first lookup."""

    def __init__(self, app: typer.Typer) -> None:
        self._app = app
        self._names: dict[str, None] = {}  # every name, in order
        self._built: dict[str, Any] = {}
        self._pending: dict[str, Any] = {}  # name → CommandInfo

    def add_pending(self, name: str, info: Any) -> None:
        self._names[name] = None
        self._built.pop(name, None)
        self._pending[name] = info

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            info = self._pending.pop(name)  # KeyError for a name it does not have, as a dict
            self._built[name] = typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=self._app.pretty_exceptions_short,
                rich_markup_mode=self._app.rich_markup_mode,
            )
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

    def for_listing(self, name: str) -> Any:
        """The command ``name`` as a group's help lists it: built, or else a stand-in with its name and help text
        (as typer derives them) and no options."""
        if name in self._built:
            return self._built[name]
        info = self._pending[name]
        return typer.core.TyperCommand(
            name,
            help=inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help),
            short_help=info.short_help,
            hidden=info.hidden,
            deprecated=info.deprecated,
            rich_markup_mode=self._app.rich_markup_mode,
        )


def click_group(app: typer.Typer) -> Any:
    """``typer.main.get_command(app)`` for an app with a root callback, its commands built on first lookup."""
    commands = app.registered_commands
    app.registered_commands = []  # typer builds the group, its root options and its command groups
    try:
        group: Any = typer.main.get_command(app)
    finally:
        app.registered_commands = commands
    lazy = CommandsBuiltOnUse(app)
    for info in commands:  # typer's order: the commands, then the groups
        lazy.add_pending(info.name or typer.main.get_command_name(getattr(info.callback, "__name__", "")), info)
    for name, command in group.commands.items():
        lazy[name] = command
    group.commands = lazy
    return group
