"""``orchbench serve``: run the line-scoring server in the foreground until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from orchbench.errors import UsageError

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _setting(text: str) -> typer.models.OptionInfo:
    return typer.Option(help=f"{text.rstrip('.')} (default: the scenario's).", show_default=False)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the server.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).", min=0, max=65535)] = 8080,
    scenario: Annotated[str, typer.Option(help="Latency and fault scenario: original, default or none.")] = "default",
    seed: Annotated[int, typer.Option(help="Seed of the deterministic faults and latencies.")] = 0,
    capacity: Annotated[int | None, _setting("Requests in flight before answering 429 (0: unlimited).")] = None,
    latency_median: Annotated[float | None, _setting("Median latency in seconds.")] = None,
    latency_sigma: Annotated[float | None, _setting("Lognormal shape of the latency.")] = None,
    slow_rate: Annotated[float | None, _setting("Share of very slow answers (0-1).")] = None,
    slow_latency: Annotated[float | None, _setting("Latency of a very slow answer, in seconds.")] = None,
    retry_after: Annotated[float | None, _setting("Seconds that 429 and 503 answers ask to wait.")] = None,
    rate_503: Annotated[float | None, _setting("Share of 503 answers (0-1).")] = None,
    rate_500: Annotated[float | None, _setting("Share of 500 answers (0-1).")] = None,
    drop_rate: Annotated[float | None, _setting("Share of connections closed without an answer (0-1).")] = None,
    malformed_rate: Annotated[float | None, _setting("Share of 200 answers with a malformed body (0-1).")] = None,
    hang_rate: Annotated[float | None, _setting("Share of requests accepted and never answered (0-1).")] = None,
    die_after: Annotated[int | None, _setting("Kill the server at its N-th request (0: never).")] = None,
    max_body: Annotated[int | None, _setting("Largest request body in bytes; larger ones get 413.")] = None,
    max_connections: Annotated[int | None, _setting("Connections kept open at once; more are closed.")] = None,
) -> int:
    """Run the line-scoring server until Ctrl-C.

    POST / with the raw line, or POST /score with JSON; GET /health, GET /stats.
    """
    import asyncio

    from orchbench.renames import current_name
    from orchbench.workloads.scoring import ScoringWorkload
    from orchbench.workloads.scoring.server import SCENARIOS, serve

    scenario = current_name("--scenario", scenario, ScoringWorkload.renamed, SCENARIOS)
    if scenario not in SCENARIOS:
        raise UsageError(f"no scoring scenario {scenario!r} (scenarios: {', '.join(SCENARIOS)})")
    try:
        config = (
            SCENARIOS[scenario]
            .with_overrides(
                seed=seed,
                capacity=capacity,
                latency_median=latency_median,
                latency_sigma=latency_sigma,
                slow_rate=slow_rate,
                slow_latency=slow_latency,
                retry_after=retry_after,
                rate_503=rate_503,
                rate_500=rate_500,
                drop_rate=drop_rate,
                malformed_rate=malformed_rate,
                hang_rate=hang_rate,
                die_after=die_after,
                max_body=max_body,
                max_connections=max_connections,
            )
            .validate()
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if host not in _LOOPBACK:
        typer.echo(
            f"orchbench: warning: binding {host} makes the scoring server reachable from other machines", err=True
        )

    def ready(url: str) -> None:
        typer.echo(f"scoring server on {url} (scenario {scenario}, seed {seed}); Ctrl-C stops it")

    try:
        asyncio.run(serve(config, host, port, on_ready=ready))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    typer.echo("scoring server stopped")
    return 0


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
