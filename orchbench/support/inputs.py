"""Reading a user's input file, with one clear error for each way it can be unusable (the kit's
:func:`orchbench.read_input`)."""

from __future__ import annotations

import sys
from pathlib import Path

from orchbench.errors import UsageError

MAX_INPUT_BYTES = 512 * 1024 * 1024


def _read_capped(stream) -> bytes:
    """Up to MAX_INPUT_BYTES + 1 bytes, read in blocks (a single sized read would allocate the whole cap)."""
    blocks, size = [], 0
    while size <= MAX_INPUT_BYTES:
        block = stream.read(1 << 20)
        if not block:
            break
        blocks.append(block)
        size += len(block)
    return b"".join(blocks)


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (``-`` reads standard input); UsageError when missing, unreadable or empty."""
    try:
        if path == "-":
            data = _read_capped(sys.stdin.buffer)
        else:
            p = Path(path)
            if p.is_dir():
                raise UsageError(f"{path}: is a directory, not a text file")
            with p.open("rb") as f:
                data = _read_capped(f)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"{path}: larger than {MAX_INPUT_BYTES // 2**20} MiB")
    if b"\x00" in data:  # before decoding: binary data is rarely valid UTF-8, and this says what it is
        raise UsageError(f"{path}: looks binary (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    if not text.strip():
        raise UsageError(f"{path}: is empty")
    return text
