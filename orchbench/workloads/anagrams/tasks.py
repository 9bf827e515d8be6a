"""The three tasks of the anagram pipeline (seed 000), as pure functions.

Their latency and failures are not in here: the harness adds them from the workload's task profiles, so
every strategy meets the same, deterministic faults. Strategies never edit these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def filter_input(text: str) -> str:
    """Hyphens become spaces; everything but letters, digits and white space is dropped."""
    text = text.replace("-", " ")
    return "".join(ch for ch in text if ch.isalpha() or ch.isdigit() or ch.isspace())


def get_words(text: str) -> list[str]:
    """Split on white space."""
    return text.split()


def signature(word: str) -> str:
    """Two words are anagrams when their signatures are equal."""
    return "".join(sorted(word.lower()))


def build_index(words: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Dictionary words grouped by signature."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(signature(word), []).append(word)
    return {key: tuple(sorted(group)) for key, group in groups.items()}


def find_anagrams(word: str, index: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every dictionary word that is an anagram of ``word`` (the word itself included when in the dictionary)."""
    return index.get(signature(word), ())
