"""No command writes over a file it reads: every output path is checked against every input path, and against the
other outputs, by file identity, before any work starts.

Identity is the file's (device, inode) when it exists — so a symlink, a hard link, ``./x`` and ``../d/x`` all name
the same file — and its resolved path (symlinks of the directories and of the name followed) when it is still to
be written. A clash is one line (UsageError, status 2) naming both options. The inputs a command names stay
protected for the rest of the command: a file whose name is known only later (a plot, the HTML page beside a
results file) is refused by :func:`check_write` at the moment it would be written, like every write of
:mod:`orchbench.support.atomic`.

Besides the inputs a command names, the plugin files it loaded and the project file it used are inputs too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from orchbench.errors import UsageError
from orchbench.support import atomic

PathLike = str | os.PathLike[str]

_protected: dict[tuple[object, ...], tuple[str, str]] = {}  # identity → (label, path as given), this command's


def identity(path: PathLike) -> tuple[object, ...]:
    """What makes two paths one file: (device, inode) of an existing file, else the fully resolved path."""
    try:
        found = os.stat(path)  # follows symlinks
    except (OSError, ValueError):
        return ("path", os.path.realpath(path))
    return ("inode", found.st_dev, found.st_ino)


def _given(paths: Mapping[str, PathLike | Iterable[PathLike] | None]) -> list[tuple[str, str]]:
    """(label, path) of each path given; a label may hold several paths (``report A B``); ``-`` is standard input
    or output, never a file."""
    out: list[tuple[str, str]] = []
    for label, value in paths.items():
        if value is None:
            continue
        values = [value] if isinstance(value, str | os.PathLike) else list(value)
        out += [(label, os.fspath(v)) for v in values if os.fspath(v) not in ("", "-")]
    return out


def _implicit_inputs() -> list[tuple[str, str]]:
    """The plugin files this process loaded and the project file it runs with: read by every command."""
    from orchbench.harness import plugins, project

    found = [("the plugin file", p) for p in plugins.used() if plugins.is_path(p)]
    config = project.in_use()
    return found + ([("the project file", str(config.path))] if config is not None else [])


def refuse_overwrites(
    outputs: Mapping[str, PathLike | Iterable[PathLike] | None],
    inputs: Mapping[str, PathLike | Iterable[PathLike] | None] | None = None,
) -> None:
    """Before any work: one UsageError line when an output is one of the ``inputs`` (or a plugin or project file
    loaded), or two outputs are one file; each output must also be writable as a file (not a directory), checked
    by :func:`orchbench.support.atomic.check_target`. Labels are the options as the user typed them (``--against``).

    The inputs are then this command's protected files (see :func:`check_write`)."""
    _protected.clear()
    for label, path in [*_given(inputs or {}), *_implicit_inputs()]:
        _protected.setdefault(identity(path), (label, path))
    written: dict[tuple[object, ...], tuple[str, str]] = {}
    for label, path in _given(outputs):
        key = identity(path)
        if key in _protected:
            raise _clash(label, path, *_protected[key])
        if key in written:
            other_label, other = written[key]
            same = "" if Path(path) == Path(other) else f" ({other})"
            raise UsageError(
                f"{label} {path}: that is also the file of {other_label}{same}; one would replace the other "
                "(give another path)"
            )
        written[key] = (label, path)
    for _label, path in _given(outputs):
        atomic.check_target(path)


def check_write(path: PathLike, what: str) -> None:
    """The last check before ``path`` is written: UsageError when it is a file this command reads."""
    if not _protected:
        return
    found = _protected.get(identity(path))
    if found is not None:
        raise _clash(what, os.fspath(path), *found)


def _clash(label: str, path: str, input_label: str, input_path: str) -> UsageError:
    same = "" if Path(path) == Path(input_path) else f" ({input_path})"
    return UsageError(
        f"{label} {path}: that is {input_label}{same}, which this command reads; orchbench never writes over "
        "its input (give another path)"
    )


def forget() -> None:
    """No file is protected any more (a new command starts)."""
    _protected.clear()


atomic.write_checks.append(check_write)  # every atomic write refuses a protected file too
