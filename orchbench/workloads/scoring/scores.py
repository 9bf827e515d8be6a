"""What a line is and what it scores: the one definition shared by the server, the clients and the reference.

- A text is split into lines on ``"\\n"``; a trailing ``"\\r"`` is dropped from each line, and a final newline ends
  the last line rather than starting an empty one.
- A *blank* line (empty, or white space only) scores 0 by definition. The clients do not send it; the server,
  if asked, answers 0 too, so both routes agree.
- Any other line scores ``1 + h mod 1000`` (1…1000), where ``h`` is a keyed BLAKE2b hash of the line's UTF-8
  bytes. A non-blank line never scores 0, so a value lost and replaced by 0 always changes the total.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SCORE_MAX = 1000
_PERSON = b"orchbench-score"


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, blank ones included, without their line endings."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def is_blank(line: str) -> bool:
    """True for an empty line or one of white space only."""
    return not line or line.isspace()


def score_line(line: str) -> int:
    """The score of one line: 0 for a blank line, else 1…1000, fixed by the line's UTF-8 bytes."""
    if is_blank(line):
        return 0
    digest = hashlib.blake2b(line.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    return 1 + int.from_bytes(digest, "big") % SCORE_MAX


def total_score(lines: Iterable[str]) -> int:
    """The sum of the scores of ``lines``."""
    return sum(score_line(line) for line in lines)
