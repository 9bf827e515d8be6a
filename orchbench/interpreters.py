"""Which Python a run ran on, and what must match before two runs may be pooled or gated against each other.

A run's *identity* is its interpreter (implementation, version, build: ``gil`` or ``free-threaded``, and whether
it is a debug build), the commit and dirty state of the project it was measured in, and the orchbench version.
Reports never pool runs whose identities differ (:func:`differing`), and the gate refuses a baseline measured on
another interpreter (:func:`interpreter_of`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from typing import Any

from orchbench.errors import UsageError

# Printed as JSON by the interpreter it describes (so it must run on any Python 3).
PROBE = r"""
import json, platform, sys, sysconfig
gil = getattr(sys, "_is_gil_enabled", None)
print(json.dumps({
    "implementation": platform.python_implementation(),
    "version": platform.python_version(),
    "build": "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "gil",
    "debug": hasattr(sys, "gettotalrefcount"),
    "gil_enabled": True if gil is None else gil(),
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
}))
"""

INTERPRETER_KEYS = ("implementation", "version", "build", "debug")
IDENTITY_KEYS = (*INTERPRETER_KEYS, "commit", "dirty", "orchbench")
PROBE_TIMEOUT_S = 30.0


def this_interpreter() -> dict[str, Any]:
    """The interpreter of this process, as :data:`PROBE` describes one."""
    namespace: dict[str, Any] = {}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(PROBE, namespace)
    return dict(json.loads(out.getvalue()))


def describe(executable: str) -> dict[str, Any]:
    """The interpreter at ``executable`` (it runs :data:`PROBE`); one UsageError line when it is none."""
    try:
        ran = subprocess.run(
            [executable, "-I", "-c", PROBE], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise UsageError(f"--python {executable}: no such file") from None
    except PermissionError:
        raise UsageError(f"--python {executable}: not executable") from None
    except OSError as exc:
        raise UsageError(f"--python {executable}: cannot run it ({exc.strerror or exc})") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"--python {executable}: did not answer within {PROBE_TIMEOUT_S:g} s") from None
    try:
        found = json.loads(ran.stdout)
        assert isinstance(found, dict)
    except (ValueError, AssertionError):
        raise UsageError(f"--python {executable}: not a Python interpreter (exit status {ran.returncode})") from None
    return found


def short_label(interpreter: Mapping[str, Any]) -> str:
    """``3.12.1``, ``3.13.0t`` (free-threaded), ``pypy 3.10.14``, ``3.12.1d`` (debug)."""
    impl = interpreter.get("implementation") or "?"
    text = str(interpreter.get("version") or "?")
    if interpreter.get("build") == "free-threaded":
        text += "t"
        if interpreter.get("gil_enabled"):
            text += " (GIL on)"
    if interpreter.get("debug"):
        text += "d"
    return text if impl == "CPython" else f"{impl.lower()} {text}"


def interpreter_of(document: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The interpreter a strategy's runs of this comparison ran on (``settings.interpreters``, written since
    the interpreter axis; before it, the environment's own Python)."""
    recorded = (document.get("settings") or {}).get("interpreters") or {}
    if isinstance(recorded.get(label), Mapping):
        return dict(recorded[label])
    env = document.get("environment") or {}
    known = {"implementation": env.get("implementation"), "version": env.get("python")}
    if "python_build" in env:
        known["build"] = env.get("python_build")
        known["debug"] = env.get("python_debug")
    return known


def identity(document: Mapping[str, Any], label: str) -> dict[str, Any]:
    """What must match for runs of ``label`` in ``document`` to be pooled with another's (missing: unknown)."""
    env = document.get("environment") or {}
    found = {k: v for k, v in interpreter_of(document, label).items() if k in INTERPRETER_KEYS}
    found["commit"] = env.get("git_commit")
    found["dirty"] = env.get("git_dirty")
    found["orchbench"] = (env.get("packages") or {}).get("orchbench")
    return found


def differing(identities: list[Mapping[str, Any]], keys: tuple[str, ...] = IDENTITY_KEYS) -> list[str]:
    """The keys whose values differ among ``identities``; a key some of them do not know is not compared."""
    return [k for k in keys if len({json.dumps(i.get(k)) for i in identities if k in i}) > 1]


def describe_identity(found: Mapping[str, Any], keys: list[str]) -> str:
    """The parts of an identity that tell it apart: ``py 3.12.1``, ``commit 1a2b3c4 (dirty)``, ``orchbench 0.2``."""
    parts = []
    if any(k in keys for k in INTERPRETER_KEYS):
        parts.append("py " + short_label(found))
    if "commit" in keys or "dirty" in keys:
        commit = str(found.get("commit") or "no commit")[:7]
        parts.append(f"{commit}{' dirty' if found.get('dirty') else ''}")
    if "orchbench" in keys:
        parts.append(f"orchbench {found.get('orchbench')}")
    return ", ".join(parts)
