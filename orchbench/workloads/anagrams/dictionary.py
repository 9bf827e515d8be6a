"""The dictionary: the lower-case alphabetic GCIDE word list of the english-words package."""

from __future__ import annotations

import functools


def load_words() -> frozenset[str]:
    """Read the word list from the package's data (done on every call: callers cache it if they want)."""
    from english_words import get_english_words_set

    words = get_english_words_set(["gcide"], lower=True, alpha=True)
    return frozenset(w for w in words if w.isascii() and w.isalpha())  # the list still holds a few like "a1"


@functools.cache
def cached_words() -> frozenset[str]:
    """The word list, read once per process (for the reference and the corpus generator, not the tasks)."""
    return load_words()


@functools.cache
def shared_index() -> dict[str, tuple[str, ...]]:
    """The anagram index, built once per process. A process pool's fork server that imported ``preload`` built it
    before forking, so its workers inherit it (copy-on-write) instead of each building it again."""
    from orchbench.workloads.anagrams.tasks import build_index

    return build_index(load_words())
