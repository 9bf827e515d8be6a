"""Files written whole or not at all: a temp file beside the target, then a rename over it.

Every file orchbench writes for someone to read later (results, reports, references, a profile's summary, a run's
result for its parent) goes through :func:`write_atomic`, so a reader never sees half a file and a failure leaves
any earlier file intact, no temp file behind, and one line (UsageError) saying what could not be written where.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from orchbench.errors import UsageError

# What every write must pass first, each a check(path, what) that raises UsageError; orchbench.harness.overwrite
# adds the one that refuses a file the command reads (it decides which; this module only writes).
write_checks: list[Callable[[Path, str], None]] = []


def check_target(path: str | os.PathLike[str], what: str = "results") -> None:
    """Before the first run: the results can be written to ``path`` (its directory exists or can be made and
    takes a new file; ``path`` is new or a regular file), else UsageError with one line, before any time is spent."""
    target = Path(path)
    _refuse_non_regular(target, what)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = _create_temp(target.parent, target.name)
    except OSError as exc:
        raise _cannot_write(target, exc, what) from None
    os.close(fd)
    with suppress(OSError):
        os.unlink(probe)


def write_text(path: str | os.PathLike[str], text: str, what: str = "results", *, durable: bool = True) -> Path:
    """Write ``text`` to ``path`` whole, or not at all (see :func:`write_atomic`)."""
    return write_atomic(path, lambda handle: handle.write(text), what, durable=durable)


def write_atomic(
    path: str | os.PathLike[str],
    write: Callable[[IO[str]], Any],
    what: str = "results",
    *,
    exclusive: bool = False,
    durable: bool = True,
) -> Path:
    """Call ``write`` with a text handle on a new temp file beside ``path``, then give that file the name; return
    the path it got. An interrupt meanwhile takes effect once the file is in place.

    ``exclusive``: never over an existing file; a taken name gets -2, -3, … (two comparisons started together in
    one directory both keep their file). ``durable``: fsync the file and its directory, so it survives a crash
    (not needed for a file that is read at once and deleted). ``what`` names the file in the error line.
    """
    target = Path(path)
    for check in write_checks:
        check(target, what)  # e.g. never over a file this command reads
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = _create_temp(target.parent, target.name)
    except OSError as exc:
        raise _cannot_write(target, exc, what) from None
    from orchbench.support.interrupts import deferred

    try:
        with deferred():  # Ctrl-C or SIGTERM while writing takes effect once the file is complete
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                write(handle)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            target = _publish(tmp_name, target, exclusive)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc, what) from None
        raise
    if durable:
        _fsync_directory(target.parent)
    return target


def _fsync_directory(directory: Path) -> None:
    with suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _create_temp(directory: Path, name: str) -> tuple[int, str]:
    """A new, exclusive temp file beside the target; mode 0o666 so the kernel applies the user's umask."""
    while True:
        candidate = directory / f".{name}.{os.urandom(6).hex()}.tmp"
        try:
            return os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(candidate)
        except FileExistsError:
            continue


def _cannot_write(target: Path, exc: OSError | str, what: str = "results") -> UsageError:
    why = exc if isinstance(exc, str) else (exc.strerror or str(exc))
    return UsageError(f"cannot write {what} to {target}: {why}")


def _refuse_non_regular(target: Path, what: str = "results") -> None:
    """An existing target must be a regular file: a directory, a device node or a FIFO is never replaced."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _cannot_write(target, exc, what) from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a device or special file, not a regular file"
        raise _cannot_write(target, f"it is {kind}", what)


def _publish(tmp_name: str, target: Path, exclusive: bool) -> Path:
    """Give the finished temp file its name; with ``exclusive`` the first free one of target, target-2, …"""
    if not exclusive:
        _refuse_non_regular(target)
        os.replace(tmp_name, target)
        return target
    for n in itertools.count(1):
        candidate = target if n == 1 else target.with_name(f"{target.stem}-{n}{target.suffix}")
        try:
            os.link(tmp_name, candidate)  # atomic, and fails when the name exists
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: reserve the name, then replace the reservation
            try:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            os.replace(tmp_name, candidate)
            return candidate
        os.unlink(tmp_name)
        return candidate
    raise AssertionError("unreachable")
