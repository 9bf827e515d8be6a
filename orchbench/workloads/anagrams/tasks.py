"""The three tasks of the anagram pipeline (the original exercise, 000), as pure functions.

Their latency and failures are not in here: the harness adds them from the workload's task profiles, so
every strategy meets the same, deterministic faults. Strategies never edit these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


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


def build_index(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Dictionary words grouped by signature, each group sorted."""
    groups: dict[str, tuple[str, ...]] = {}
    get = groups.get
    for word in sorted(words):  # sorted once, so each group is built in order (most groups hold one word)
        key = "".join(sorted(word.lower()))
        group = get(key)
        groups[key] = (word,) if group is None else (*group, word)
    return groups


def find_anagrams(word: str, index: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every dictionary word that is an anagram of ``word`` (the word itself included when in the dictionary)."""
    return index.get(signature(word), ())
