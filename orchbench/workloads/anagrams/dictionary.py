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
