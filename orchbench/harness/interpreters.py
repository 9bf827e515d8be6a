"""Which Python a run ran on, and what must match before two runs may be pooled or gated against each other.

A run's *identity* is its interpreter (implementation, version, build: ``gil`` or ``free-threaded``, and whether
it is a debug build), the commit and dirty state of the project it was measured in, and the orchbench version.
Reports never pool runs whose identities differ (:func:`differing`), and the gate refuses a baseline measured on
another interpreter (:func:`interpreter_of`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
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


def differing(identities: Sequence[Mapping[str, Any]], keys: tuple[str, ...] = IDENTITY_KEYS) -> list[str]:
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


# --- an environment with orchbench for another interpreter (compare --python) ------------------------------------

MINIMUM = (3, 11)
INSTALL_TIMEOUT_S = 1800.0  # a first build downloads orchbench's dependencies for that interpreter
READY = ".orchbench-ready"


def cache_root() -> Path:
    """Where the environments are kept: ``$XDG_CACHE_HOME/orchbench/venvs`` (default ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "orchbench" / "venvs"


def requirement_of(distribution: str) -> list[str]:
    """How pip installs the distribution as it is installed here: the same local source (editable when it is
    editable here), or the same version from the package index."""
    from importlib import metadata

    dist = metadata.distribution(distribution)
    direct = dist.read_text("direct_url.json")
    if direct:
        found = json.loads(direct)
        url = str(found.get("url", ""))
        if url.startswith("file://") and "dir_info" in found:
            path = url.removeprefix("file://")
            return ["-e", path] if found["dir_info"].get("editable") else [path]
    return [f"{dist.metadata['Name']}=={dist.version}"]


def interpreter_for(executable: str, distributions: list[str]) -> tuple[str, dict[str, Any]]:
    """An interpreter like ``executable`` that can run orchbench (and ``distributions``, the plugin packages the
    runs use), and its description: this one when it is the running interpreter, else the Python of a virtual
    environment made for it once and kept in :func:`cache_root`, keyed by interpreter and requirements."""
    import hashlib
    import sys

    found = describe(executable)
    version = tuple(int(p) for p in str(found.get("version", "0")).split(".")[:2] if p.isdigit())
    if version < MINIMUM:
        raise UsageError(
            f"--python {executable}: Python {found.get('version')}; orchbench needs {MINIMUM[0]}.{MINIMUM[1]} or newer"
        )
    if os.path.realpath(found["executable"]) == os.path.realpath(sys.executable):
        return sys.executable, found
    requirements = [r for name in ["orchbench", *distributions] for r in requirement_of(name)]
    key = json.dumps([os.path.realpath(found["executable"]), found["version"], found["build"], requirements])
    name = f"{str(found['implementation']).lower()}-{short_label(found).replace(' ', '')}-"
    home = cache_root() / (name + hashlib.sha256(key.encode()).hexdigest()[:12])
    python = home / "bin" / "python"
    with _locked(home.with_name(home.name + ".lock")):
        if not (home / READY).exists():
            _build(executable, home, requirements, found)
    return str(python), {**found, "executable": str(python)}


def _build(executable: str, home: Path, requirements: list[str], found: Mapping[str, Any]) -> None:
    import shutil

    from orchbench.support.console import say

    shutil.rmtree(home, ignore_errors=True)  # a build that did not finish
    say(f"orchbench: making an environment for Python {short_label(found)} in {home} (once; later runs reuse it)")
    steps = [
        [executable, "-m", "venv", str(home)],
        [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
    ]
    for step in steps:
        try:
            ran = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            shutil.rmtree(home, ignore_errors=True)
            raise UsageError(f"--python {executable}: {step[2]} took longer than {INSTALL_TIMEOUT_S:g} s") from None
        if ran.returncode != 0:
            shutil.rmtree(home, ignore_errors=True)
            last = (ran.stderr.strip().splitlines() or ["no message"])[-1]
            raise UsageError(f"--python {executable}: cannot make its environment ({' '.join(step[1:4])}: {last})")
    (home / READY).write_text(json.dumps(requirements) + "\n", encoding="utf-8")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time builds or checks an environment (two comparisons started together share it)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
