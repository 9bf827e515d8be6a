"""The rich console every table is printed on, and the one way text from outside is shown on it.

Text orchbench did not write itself — a server's answer, an error message, a strategy name or a file name read
from a saved file, an input line — may hold terminal escape sequences (which retitle, clear or hijack the
terminal), other control characters, or rich markup (``[/usr/bin]`` would end a rich print with MarkupError).
:func:`safe_text` shows such text as text; :func:`safe_markup` also escapes markup, for strings rich parses.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from orchbench.support.redact import redact_text

PIPE_WIDTH = 160  # off a terminal (a pipe, a file, CI) tables keep all their columns instead of folding to 80

# C0 and C1 controls and DEL; the bidirectional overrides and isolates, which reorder what is shown ("Trojan
# source"); line and paragraph separators; lone surrogates (undecodable bytes of a file name), which no terminal
# encoding can print.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte Python could not decode (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: Any) -> str:
    """``value`` as one line of plain text: control characters, escape sequences and the like written as
    visible escapes (``\\x1b``, ``\\n``, ``\\u202e``), and secrets (URL passwords, secret header values)
    masked (:mod:`orchbench.support.redact`); everything else unchanged."""
    return _UNSAFE.sub(_visible, redact_text(str(value)))


def safe_markup(value: Any) -> str:
    """:func:`safe_text`, with rich markup escaped too: for text placed inside a string rich parses."""
    from rich.markup import escape

    return escape(safe_text(value))


def say(message: str) -> None:
    """``message`` as one line on stderr, shown as text (see :func:`safe_text`); nothing when stderr is gone (a
    closed terminal after SIGHUP), so that the clean-up after it still runs to its end."""
    try:
        print(safe_text(message), file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def say_traceback(exc: BaseException) -> None:
    """``exc``'s traceback on stderr (``--debug``), each line shown as text and with secrets masked, like every
    other line orchbench prints: a message that quotes a URL with its password shows ``***``."""
    import traceback

    try:
        for line in "".join(traceback.format_exception(exc)).splitlines():
            print(safe_text(line), file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def make_console(**kwargs: Any) -> Any:
    """A rich console at the terminal's width (a pipe's: :data:`PIPE_WIDTH`) that shows ":smile:" in a plugin's
    or a service's text as it is, not as an emoji."""
    from rich.console import Console

    kwargs.setdefault("emoji", False)
    stream = sys.stderr if kwargs.get("stderr") else sys.stdout
    if not stream.isatty() and not os.environ.get("COLUMNS", "").isdigit():  # COLUMNS=100 sets a pipe's width
        kwargs.setdefault("width", PIPE_WIDTH)
    return Console(**kwargs)
