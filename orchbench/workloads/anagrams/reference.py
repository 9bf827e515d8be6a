"""The expected anagram counts, computed without the tasks and without faults.

It shares no code with ``tasks.py``: text is cut into words in one pass, and anagrams are matched by a product of
one prime per letter (equal products, equal letter multisets), not by sorted letters.
"""

from __future__ import annotations

import functools
from collections import Counter

_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101)


def _prime_key(word: str) -> int | None:
    product = 1
    for ch in word:
        offset = ord(ch) - 97
        if not 0 <= offset < 26:
            return None  # not a-z: no dictionary word (all a-z) can be its anagram
        product *= _PRIMES[offset]
    return product


def text_words(text: str) -> list[str]:
    """The words of the text as the pipeline sees them (hyphens separate words; other punctuation vanishes)."""
    kept = []
    for ch in text:
        if ch.isalpha() or ch.isdigit():
            kept.append(ch)
        elif ch.isspace() or ch == "-":
            kept.append(" ")
    return "".join(kept).split()


@functools.lru_cache(maxsize=4)
def _by_prime_key(dictionary: frozenset[str]) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = {}
    for entry in dictionary:
        key = _prime_key(entry)
        if key is not None:
            groups.setdefault(key, []).append(entry)
    return groups


def anagram_counts(text: str, dictionary: frozenset[str]) -> dict[str, int]:
    """For every word of the text, +1 to each dictionary word that is its anagram."""
    groups = _by_prime_key(dictionary)
    counts: Counter[str] = Counter()
    for word, n in Counter(w.lower() for w in text_words(text)).items():
        key = _prime_key(word)
        for entry in groups.get(key, ()) if key is not None else ():
            counts[entry] += n
    return dict(counts)
