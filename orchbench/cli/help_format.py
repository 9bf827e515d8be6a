"""How command groups list their commands in ``--help``: each command's first sentence whole, wrapped at the
terminal's width, never cut with "..." (click's default cuts it to one line)."""

from __future__ import annotations

from typing import Any

import typer

from orchbench.cli.built_on_use import CommandsBuiltOnUse


class CommandGroup(typer.core.TyperGroup):
    """A typer command group whose help lists every command's summary whole."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # in registration order, as typer's; the names alone, no command built

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        listing = self.commands.for_listing if isinstance(self.commands, CommandsBuiltOnUse) else None
        rows = []
        for name in self.list_commands(ctx):
            command = listing(name) if listing is not None else self.get_command(ctx, name)  # listed, not built
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
