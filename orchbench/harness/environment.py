"""Where a run ran: the machine, the interpreter, the packages and plugins, the project and its commit. Recorded
with every comparison and profile, so that runs from different places are never pooled unknowingly."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from orchbench.runtime.loop import loop_name

# Distributions whose versions are recorded: orchbench and what it runs on.
PACKAGES = ("orchbench", "pluggy", "typer", "rich", "psutil", "numpy", "scipy", "matplotlib", "aiohttp", "uvloop")


def _cpu_model() -> str | None:
    with suppress(OSError):
        fields: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip().lower(), value.strip())
        for key in ("model name", "hardware", "cpu model", "model"):  # on x86 "model" is a bare number
            if fields.get(key):
                return fields[key]
    if platform.system() == "Darwin":
        with suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
    return platform.processor() or platform.machine() or None


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        with suppress(AttributeError, ValueError, OSError):
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def _package_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_commit() -> str | None:
    with suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=os.getcwd())
        commit = out.stdout.strip()
        if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit):
            return commit
    return None


def _git_dirty() -> bool | None:
    """Whether tracked files of the project (the working directory's repository) differ from its commit."""
    with suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=os.getcwd(),
        )
        if out.returncode == 0:
            return bool(out.stdout.strip())
    return None


def _plugin_record(plugin: Any) -> dict[str, Any]:
    get = plugin.get if isinstance(plugin, Mapping) else lambda key: getattr(plugin, key, None)
    return {"name": get("name"), "distribution": get("distribution"), "version": get("version")}


def environment(plugins: Iterable[Any] | None = None) -> dict[str, Any]:
    """Describe this machine and software; ``plugins`` are mappings or objects with name/distribution/version
    (by default, the plugins loaded here)."""
    if plugins is None:
        from orchbench.harness.plugins import get_registry

        plugins = [
            {"name": s.plugin, "distribution": s.distribution, "version": s.version} for s in get_registry().plugins()
        ]
    from orchbench.harness.interpreters import this_interpreter

    interpreter = this_interpreter()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "python_build": interpreter["build"],  # gil or free-threaded
        "python_debug": interpreter["debug"],
        "gil_enabled": interpreter["gil_enabled"],
        "os": f"{platform.system()} {platform.release()}".strip(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_total": _memory_total(),
        "packages": _package_versions(),
        "event_loop": loop_name(),
        "plugins": [_plugin_record(p) for p in plugins],
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "project": _project_file(),
    }


def _project_file() -> str | None:
    """The pyproject.toml whose ``[tool.orchbench]`` the command ran with (its plugins and defaults), if any."""
    from orchbench.harness.project import in_use

    config = in_use()
    return str(config.path) if config is not None else None
