"""``orchbench serve``: run the line-scoring server in the foreground until Ctrl-C.

The scoring workload adds this command to the CLI (its ``orchbench_commands`` hook). Besides ``--host``,
``--port`` and ``--scenario``, every option is a field of ``ServerConfig``, generated from it: its name, type and
help come from the field, and it overrides the scenario's value when given.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Annotated, Any

import typer

from orchbench import UsageError, keyword_option, with_signature

# Old scenario names still accepted, given by `register` (the workload's ``renamed``): the scoring workload's
# package imports this module to add the command, and this one does not import the package back.
_renamed: dict[str, str] = {}


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine: ``localhost``, 127.0.0.0/8 or ::1."""
    import ipaddress

    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_command(
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the server.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).", min=0, max=65535)] = 8080,
    scenario: Annotated[str, typer.Option(help="Latency and fault scenario: original, default or none.")] = "default",
    **settings: Any,
) -> int:
    """Run the line-scoring server until Ctrl-C.

    POST / with the raw line, or POST /score with JSON; GET /health, GET /stats.
    """
    import asyncio

    from orchbench import current_name
    from orchbench.workloads.scoring.app import serve
    from orchbench.workloads.scoring.model import SCENARIOS

    scenario = current_name("--scenario", scenario, _renamed, SCENARIOS)
    if scenario not in SCENARIOS:
        raise UsageError(f"no scoring scenario {scenario!r} (scenarios: {', '.join(SCENARIOS)})")
    if not host.strip() or any(c.isspace() for c in host):
        raise UsageError(f"--host {host!r} is not an address or a host name (127.0.0.1: this machine only)")
    try:
        config = SCENARIOS[scenario].with_overrides(**settings).validate()
    except ValueError as exc:  # the same checks as a run's embedded server; the message names the field
        name = str(exc).split(" ", 1)[0]
        message = str(exc).replace(name, "--" + name.replace("_", "-"), 1) if name in settings else str(exc)
        raise UsageError(message) from None
    if not is_loopback(host):
        typer.echo(
            f"orchbench: warning: binding {host} makes the scoring server reachable from other machines", err=True
        )

    def ready(url: str) -> None:
        typer.echo(f"scoring server on {url} (scenario {scenario}, seed {config.seed}); Ctrl-C stops it")

    try:
        asyncio.run(serve(config, host, port, on_ready=ready))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    typer.echo("scoring server stopped")
    return 0


def with_server_settings(command: Callable[..., int]) -> Callable[..., int]:
    """``command`` with one keyword option per ``ServerConfig`` field in place of its ``**settings``: typer reads
    the signature, so each field becomes ``--field-name`` (None when not given: the scenario's value stays)."""
    from orchbench.workloads.scoring.model import ServerConfig, field_type

    fixed = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
    generated = [
        keyword_option(
            f.name,
            field_type(f.name) | None,
            typer.Option(help=f"{f.metadata['help'].rstrip('.')} (default: the scenario's).", show_default=False),
        )
        for f in fields(ServerConfig)
    ]

    def generated_command(**given: Any) -> int:
        return command(**given)

    return with_signature(generated_command, [*fixed, *generated], like=command)


def register(app: typer.Typer, renamed: Mapping[str, str]) -> None:
    """Add ``serve``; ``renamed`` maps old scenario names to their current ones (the workload's ``renamed``)."""
    _renamed.update(renamed)
    app.command("serve")(with_server_settings(serve_command))
