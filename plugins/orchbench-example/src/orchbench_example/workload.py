"""``wordlen``: text → words → the length of each word → a histogram {length: number of words}.

The length of a word counts its letters and digits, so "harbour;" has length 7; a word of punctuation alone
(a dash) has length 0 and is left out of the histogram.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from orchbench import TaskProfile, UsageError, Workload

SMALL = "A cat sat on the mat."
MEDIUM = (
    "Rain fell on the quiet harbour while the ferry waited; two gulls argued over a crust, a boy counted "
    "the masts - twelve, thirteen, fourteen - and the clock above the fish market struck nine."
)
CASES = {"small": SMALL, "medium": MEDIUM}


def split_words(text: str) -> list[str]:
    """The prepare task: split on white space."""
    return text.split()


def measure(word: str) -> int:
    """The map task: how many letters and digits the word has."""
    return sum(1 for ch in word if ch.isalnum())


def _histogram(lengths: list[int]) -> dict[int, int]:
    return dict(sorted(Counter(n for n in lengths if n > 0).items()))


def reference_histogram(text: str) -> dict[int, int]:
    """Computed apart from the tasks: a regular expression finds the words, then counts in one pass."""
    counts: dict[int, int] = {}
    for token in re.findall(r"\S+", text):
        n = len(token) - len(re.sub(r"[^\W_]", "", token))
        if n:
            counts[n] = counts.get(n, 0) + 1
    return dict(sorted(counts.items()))


class WordLengths(Workload):
    name = "wordlen"
    description = "example plugin: the histogram of word lengths of a text"
    unit = "words"
    cases = {"small": "one short sentence", "medium": "a sentence of 35 words"}
    default_case = "small"
    scenarios = {
        "none": "no latency, no faults",
        "fast": "10 ms to split, 5 ms per word; 10 % of attempts fail",
        "slow": "0.5 s to split, 0.1 s per word; 10 % of attempts fail",
    }
    default_scenario = "fast"
    map_task = "measure"

    def task_profiles(self, scenario: str) -> dict[str, TaskProfile]:
        # Every task is listed in every scenario, so --fault-rate and friends reach it.
        split, per_word, rate = {"none": (0.0, 0.0, 0.0), "fast": (0.01, 0.005, 0.1), "slow": (0.5, 0.1, 0.1)}[scenario]
        return {
            "split": TaskProfile(latency_s=split, fault_rate=rate),
            "measure": TaskProfile(latency_s=per_word, fault_rate=rate),
        }

    def load_input(self) -> str:
        if self.spec.input_path is not None:
            try:
                text = Path(self.spec.input_path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{self.spec.input_path}: cannot read it as UTF-8 text ({exc})") from None
        else:
            case = self.spec.case or self.default_case
            if case not in CASES:
                raise UsageError(f"workload 'wordlen' has no test case {case!r} (cases: {', '.join(CASES)})")
            text = CASES[case]
        if not text.split():
            raise UsageError(f"{self.spec.input_path or 'the input'} has no words")
        return text

    def prepare(self, raw: str, stage: Any) -> list[str]:
        return stage("split", split_words, raw)

    def map_item(self, item: str) -> int:
        return measure(item)

    def reduce(self, values: list[int]) -> dict[int, int]:
        return _histogram(values)

    def reference(self, raw: str) -> dict[int, int]:
        return reference_histogram(raw)

    def limit_s(self, raw: str, items: list[Any], faults: Any) -> float:
        """The critical path: the split's attempts, then the slowest word's attempts, all words at once."""
        split = faults.attempts_to_succeed("split", 0) * faults.latency("split")
        per_word = max((faults.attempts_to_succeed("measure", i) for i in range(len(items))), default=0)
        return split + per_word * faults.latency("measure")
