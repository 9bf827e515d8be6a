"""A project's settings in the ``[tool.orchbench]`` table of its ``pyproject.toml``, found from the current directory
upwards (the nearest ``pyproject.toml`` counts, as for hatch)::

    [tool.orchbench]
    plugins = ["my_pipeline.py"]        # files (relative to this pyproject.toml) or importable modules
    workload = "my-pipeline"            # any other key: a default of every command that has that option
    set = ["concurrency=32"]
    strategies = ["asyncio", "threads"]

Keys are command-line option names without the dashes (``test-case``, ``input``, ``reference``…); the command line
still wins over them.

The ``plugins`` are code: they are imported only by the commands that run or list workloads, never by
``--version``, ``--help``, ``report``, ``serve`` or ``check``, and a broken table does not stop those. ``--no-project``
or ``ORCHBENCH_NO_PROJECT=1`` ignores the file; ``ORCHBENCH_PLUGINS`` set (even empty) loads only the project plugins
it names. The file used is named on stderr and saved with the results (``environment.project``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchbench.errors import UsageError

PATH_KEYS = ("input", "reference")  # values read relative to the pyproject.toml
NO_PROJECT_ENV = "ORCHBENCH_NO_PROJECT"


@dataclass
class ProjectConfig:
    path: Path
    plugins: list[str] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)


def ignored() -> bool:
    """Whether ``ORCHBENCH_NO_PROJECT`` asks to ignore the project file (any value but empty, 0, false, no)."""
    return os.environ.get(NO_PROJECT_ENV, "").strip().lower() not in ("", "0", "false", "no")


_in_use: list[ProjectConfig] = []


def use(config: ProjectConfig | None) -> None:
    """Record that this process's command runs with ``config``, or with no project file (see :func:`in_use`)."""
    _in_use[:] = [] if config is None else [config]


def in_use() -> ProjectConfig | None:
    """The project configuration this process's command runs with, if any: named in the saved results."""
    return _in_use[0] if _in_use else None


def find_pyproject(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None) -> ProjectConfig | None:
    """The ``[tool.orchbench]`` of the nearest pyproject.toml, or None; one UsageError line when it is unusable."""
    path = find_pyproject((start or Path.cwd()).resolve())
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            table = tomllib.load(f).get("tool", {}).get("orchbench")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.orchbench] must be a table")
    table = dict(table)
    plugins = table.pop("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise UsageError(f"{path}: [tool.orchbench] plugins must be a list of files or module names")
    from orchbench.harness.plugins import is_path

    plugins = [str(path.parent / p) if is_path(p) else p for p in plugins]
    for key in PATH_KEYS:
        if isinstance(table.get(key), str) and table[key] != "-":
            table[key] = str(path.parent / table[key])
    return ProjectConfig(path, plugins, table)


def default_map(
    command: Any, config: ProjectConfig, *, strict: bool = True, invoked: str | None = None
) -> dict[str, Any]:
    """click's ``default_map`` for ``command`` (a group) and its subcommands from the config's defaults; a key
    that no command takes is an error naming it (unless not ``strict``: when the project's plugins, whose
    commands and flags may take it, are not loaded). The values the ``invoked`` command takes are checked by the
    option's declared type (see :func:`check_value`)."""
    used: set[str] = set()

    def for_command(cmd: Any, name: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if hasattr(cmd, "commands"):  # a group (typer carries its own copy of click: no isinstance)
            for sub_name, sub in cmd.commands.items():
                nested = for_command(sub, sub_name if name is None else name)
                if nested:
                    out[sub_name] = nested
            return out
        for param in cmd.params:
            names = [o.lstrip("-") for o in param.opts if o.startswith("--")] + [param.name or ""]
            key = next((n for n in names if n in config.defaults), None)
            if key is not None and getattr(param, "param_type_name", "") == "option":
                value = config.defaults[key]
                if name is not None and name == invoked:
                    check_value(config, key, param, value)
                out[param.name] = value if not param.multiple or isinstance(value, list) else [value]
                used.add(key)
        return out

    mapping = for_command(command)
    unknown = sorted(set(config.defaults) - used)
    if unknown and strict:
        raise UsageError(f"{config.path}: [tool.orchbench] has {unknown[0]!r}, which no orchbench command takes")
    return mapping


def check_value(config: ProjectConfig, key: str, param: Any, value: Any) -> None:
    """A ``[tool.orchbench]`` value parsed by its option's declared type (a run option's declaration, or the
    command-line option's type): one line naming the file, the key and the accepted values when it does not fit —
    never silently converted (``seed = 1.5`` is not seed 1)."""
    import json

    from orchbench.types import RUN_OPTIONS

    declared = next((o for o in RUN_OPTIONS.values() if o.key == key or o.flag.lstrip("-") == key), None)
    option = declared.value if declared is not None and not declared.many else _declared_by(param)
    values = value if param.multiple and isinstance(value, list) else [value]
    for one in values:
        shown = f"{config.path}: [tool.orchbench] {key} = {json.dumps(one, ensure_ascii=False, default=str)}"
        option.parse(key, one, shown=shown)


def _declared_by(param: Any) -> Any:
    """An :class:`~orchbench.api.Option` equivalent to a command-line option's declared type (whole number,
    number, flag, choice of an Enum, text), with its range."""
    import enum
    from typing import get_args, get_origin

    from orchbench.api import Option

    described = getattr(param, "type_descriptor", None)
    annotation = getattr(described, "annotation", str)
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    info = getattr(described, "parameter_info", None)
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if annotation is bool:
        return Option(bool)
    if annotation in (int, float):
        return Option(annotation, min=low, max=high)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Option(str, choices=tuple(str(member.value) for member in annotation))
    return Option(str)
