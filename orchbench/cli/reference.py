"""``orchbench reference record``: one careful run whose output becomes the reference of later runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from orchbench.cli import common
from orchbench.cli.help_format import CommandGroup
from orchbench.errors import UsageError
from orchbench.harness import specs as run_specs
from orchbench.harness.overwrite import refuse_overwrites
from orchbench.support import units
from orchbench.support.console import say

reference_app = typer.Typer(
    help="Record a reference output for a workload that cannot compute its own.",
    no_args_is_help=True,
    cls=CommandGroup,
)

CAREFUL_RETRY = {"max_attempts": 20, "base": 0.1, "cap": 10.0}


@common.with_run_options(only=("workload", "case", "input_path", "scenario", "seed", "sets", "retry"))
def record_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the reference (JSON).")],
    opts: common.RunOptions,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="How to run the careful pass (sequential: one request at a time, the gentlest on a service).",
        ),
    ] = "sequential",
) -> int:
    """Run the workload once, carefully (sequential, generous retries): when every item succeeds, save its output
    with the input's digest and the options that define it, for `--reference`; else fail and write nothing."""
    from orchbench.cli.app import state
    from orchbench.harness.isolate import run_isolated
    from orchbench.harness.plugins import get_registry, warn_plugin_problems
    from orchbench.harness.verify import REFERENCE_SCHEMA, answer_options, input_digest
    from orchbench.results.document import save
    from orchbench.runtime.cache import ResourceCache

    refuse_overwrites({"--output": output}, opts.inputs())  # before the careful run, not after it
    warn_plugin_problems()
    policy = get_registry().retry_policy(opts.retry)
    careful = [
        f"retry.{key}={value}"
        for key, value in CAREFUL_RETRY.items()
        if key in policy.options and not any(s.startswith((f"{key}=", f"retry.{key}=")) for s in opts.sets)
    ]
    opts.sets += careful
    [(_label, spec)] = run_specs.build_specs([strategy], opts)
    instance = get_registry().workload(spec.workload)(spec, ResourceCache())
    raw = instance.load_input()
    say(f"orchbench: recording the reference with {strategy} ({instance.unit})…")
    result = run_isolated(spec, with_output=True, debug=state.debug)
    if result.error is not None or not result.complete:
        why = result.error or f"{result.failed:,} of {units.counted(result.items, instance.unit)} failed"
        first = f"; first: {result.failures[0]['item']}: {result.failures[0]['error']}" if result.failures else ""
        raise UsageError(f"no reference written: the careful run did not complete ({why}{first})")
    if result.correct is False:
        raise UsageError("no reference written: the output differs from the workload's own reference")
    document = {
        "schema": REFERENCE_SCHEMA,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "workload": spec.workload,
        "input": opts.input_given or spec.case,
        "input_digest": input_digest(raw),
        "options": answer_options(instance),
        "recorded_with": {
            "strategy": strategy,
            "retry": spec.retry,
            "retry_options": spec.retry_options,
            "host": type(instance).service_host(spec.workload_options),
            "attempts": result.attempts,
            "wall_s": result.wall_s,
        },
        "output": result.output,
    }
    path = save(output, document)
    retries = units.plural(result.retries, "retry", "retries")
    say(f"reference: {path} ({units.counted(result.items, instance.unit)}, {retries})")
    return 0


def register(app: typer.Typer) -> None:
    reference_app.command("record")(record_command)
    app.add_typer(reference_app, name="reference")
