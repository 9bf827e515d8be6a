"""The reference against hand-checked answers, and the tasks' semantics."""

from __future__ import annotations

from orchbench.workloads.anagrams import tasks
from orchbench.workloads.anagrams.dictionary import cached_words
from orchbench.workloads.anagrams.reference import anagram_counts, text_words


def counts(text: str) -> dict[str, int]:
    return anagram_counts(text, cached_words())


def test_cat_gives_its_three_anagrams():
    assert counts("cat") == {"act": 1, "cat": 1, "tac": 1}


def test_every_occurrence_counts_and_case_is_ignored():
    assert counts("Cat cat. TAC!") == {"act": 3, "cat": 3, "tac": 3}


def test_word_not_in_dictionary_still_counts_its_anagrams():
    assert counts("tca") == {"act": 1, "cat": 1, "tac": 1}


def test_words_without_anagrams_and_digits_contribute_nothing():
    assert counts("zzzq 2024 c4t") == {}


def test_hyphen_separates_words_and_punctuation_vanishes():
    assert text_words("well-known, can't stop") == ["well", "known", "cant", "stop"]
    assert counts("act-cat") == {"act": 2, "cat": 2, "tac": 2}


def test_filter_input_keeps_letters_digits_and_white_space():
    assert tasks.filter_input("a-b, c!\td2 é_") == "a b c\td2 é"
    assert tasks.get_words("  two\nwords ") == ["two", "words"]


def test_find_anagrams_uses_the_index():
    index = tasks.build_index(["listen", "silent", "tinsel", "apple"])
    assert tasks.find_anagrams("Enlist", index) == ("listen", "silent", "tinsel")
    assert tasks.find_anagrams("pear", index) == ()
