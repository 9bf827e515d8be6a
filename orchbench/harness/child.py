"""The child process of one measured run: ``python -m orchbench.harness.child SPEC.json RESULT.json``.

It runs the spec with :func:`orchbench.harness.runner.execute` and writes the result (with the measured
window's start and end on the monotonic clock, for the parent's sampler) atomically to RESULT.json.
"""

from __future__ import annotations

import json
import sys

from orchbench.errors import StrategyError, UsageError
from orchbench.support.console import say_traceback
from orchbench.types import RunResult, RunSpec

EXIT_CANNOT_WRITE = 3  # the result could not be written (a full or read-only temporary directory)


def main(spec_path: str, result_path: str) -> int:
    from orchbench.support import interrupts

    with open(spec_path, encoding="utf-8") as f:
        request = json.load(f)
    spec = RunSpec.from_dict(request["spec"])
    window: dict[str, float] = {}
    try:
        interrupts.install(own_sigint=False)  # SIGTERM does what Ctrl-C does here (asyncio keeps its own SIGINT)
        interrupts.release_sigint()  # the parent started this process with Ctrl-C held until now
        from orchbench.harness.runner import execute

        result = execute(spec, window)
    except KeyboardInterrupt:
        return interrupts.exit_status()
    except UsageError as exc:
        return _report(result_path, {"usage_error": str(exc)}, 2)
    except Exception as exc:  # a strategy's or workload's bug: reported as the run's error
        message = str(exc) if isinstance(exc, StrategyError) else f"{type(exc).__name__}: {exc}"
        result = RunResult(spec=spec.to_dict(), error=message)
        if request.get("debug"):
            say_traceback(exc)
    wanted = request.get("with_output", False)  # True, False, or "unverified": only when nothing checked it
    with_output = wanted is True or (wanted == "unverified" and result.correct is None)
    payload = {"result": result.to_dict(with_output=with_output), "window": window}
    return _report(result_path, payload, 0)


def _report(result_path: str, payload: dict, status: int) -> int:
    """Write the payload for the parent; when that fails, the status says so and the parent says it in one line."""
    from orchbench.support.atomic import write_text

    try:  # read at once by the parent, then deleted: no need to wait for the disk
        write_text(result_path, json.dumps(payload, default=list), "the run's result", durable=False)
    except UsageError:  # a full or read-only directory: the status tells the parent
        return EXIT_CANNOT_WRITE
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
