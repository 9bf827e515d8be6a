"""``orchbench list``: every strategy, preset, workload and retry policy, where each comes from, and broken plugins."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from orchbench.harness.plugins import KINDS, get_registry


def inventory() -> dict[str, Any]:
    """What is installed, as plain data."""
    registry = get_registry()
    rows = []
    for kind in KINDS:
        for name in registry.names(kind):
            entry = registry.entries[kind][name]
            extra: dict[str, Any] = {"options": sorted(getattr(entry.obj, "options", {}))}
            if kind == "workload":
                extra.update(cases=list(entry.obj.cases), scenarios=list(entry.obj.scenarios))
            if kind == "preset":
                if entry.obj.strategy not in registry.entries["strategy"]:
                    continue  # its strategy is not installed: it cannot run
                extra = {"strategy": entry.obj.strategy}
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "description": entry.description,
                    "plugin": entry.source.plugin,
                    "distribution": entry.source.distribution,
                    "version": entry.source.version,
                    "origin": entry.source.origin,
                    **extra,
                }
            )
    problems = [
        {
            "plugin": p.source.plugin,
            "distribution": p.source.distribution,
            "version": p.source.version,
            "origin": p.source.origin,
            "error": p.error,
        }
        for p in registry.problems
    ]
    return {"items": rows, "problems": problems}


def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> int:
    """Show the installed strategies, presets, workloads and retry policies, and plugins that failed to load."""
    data = inventory()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return 1 if data["problems"] else 0
    from rich.table import Table

    from orchbench.support.console import make_console, safe_markup

    console = make_console()
    table = Table(title="orchbench plugins", title_justify="left")
    for column in ("kind", "name", "description", "source"):
        table.add_column(column, overflow="fold")
    for row in data["items"]:
        source = (
            f"{row['distribution']} {row['version'] or ''}".strip() if row["distribution"] else row.get("origin") or ""
        )
        description = row["description"]
        if row["kind"] == "workload":
            description += f"\ncases: {', '.join(row['cases'])}; scenarios: {', '.join(row['scenarios'])}"
        if row.get("options"):
            description += f"\noptions (--set): {', '.join(row['options'])}"
        cells = (row["kind"], row["name"], description, source)  # text from plugins: shown as text, line by line
        table.add_row(*("\n".join(map(safe_markup, cell.split("\n"))) for cell in cells))
    console.print(table)
    if data["problems"]:
        problems = Table(title="plugins that could not be loaded", title_justify="left", style="red")
        for column in ("plugin", "distribution", "error"):
            problems.add_column(column, overflow="fold")
        for p in data["problems"]:
            where = f"{p['distribution']} {p['version'] or ''}".strip() if p["distribution"] else p.get("origin") or ""
            problems.add_row(*map(safe_markup, (p["plugin"], where, p["error"])))
        console.print(problems)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    app.command("list")(list_command)
