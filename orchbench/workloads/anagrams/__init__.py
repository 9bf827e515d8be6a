"""The anagram pipeline of the original exercise: text → filter_input → get_words → find_anagrams per word
→ counts."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

from orchbench import Preset, TaskProfile, UsageError, Workload, did_you_mean, hookimpl, read_input
from orchbench.workloads.anagrams import tasks, texts
from orchbench.workloads.anagrams.dictionary import cached_words, load_words, shared_index

if TYPE_CHECKING:
    import typer

_ORIGINAL = {  # the original exercise's latencies (s) and failure rates
    "filter_input": (1.0, 0.20),
    "get_words": (1.0, 0.25),
    "find_anagrams": (0.25, 0.10),
}
_CPU_MS = 20.0
# A longer word can be no dictionary word's anagram; refusing it keeps a one-word megabyte file (whose sorted
# letters, and whose reference prime product, would cost memory and time out of all proportion) one clear line.
MAX_WORD_CHARS = 1000
_INDEX = "anagram-index"
_PREPARE = ("filter_input", "get_words")


def _index_loader() -> dict[str, tuple[str, ...]]:
    """A fresh index, for runs with caching off (they model a pipeline that reloads its dictionary every call)."""
    return tasks.build_index(load_words())


class AnagramWorkload(Workload):
    name = "anagrams"
    description = "the original exercise: filter text, split into words, find each word's anagrams, count them"
    unit = "words"
    cases = texts.CASES
    default_case = "medium"
    scenarios = {
        "original": "the original exercise's latencies (1 s, 1 s, 0.25 s) and failure rates (20 %, 25 %, 10 %)",
        "fast": "the original exercise's failure rates, latencies scaled by 0.01",
        "none": "no latency, no faults: pure CPU",
        "cpu": f"no latency, no faults, {_CPU_MS:g} ms of CPU work per task (CPU-bound)",
        "mixed": f"the fast scenario plus {_CPU_MS / 4:g} ms of CPU work per task",
    }
    default_scenario = "original"
    renamed = {"seed": "original"}
    map_task = "find_anagrams"

    def task_profiles(self, scenario: str) -> dict[str, TaskProfile]:
        if scenario not in self.scenarios:
            raise UsageError(
                f"workload 'anagrams' has no scenario {scenario!r} (scenarios: {', '.join(self.scenarios)})"
            )
        profiles = {}
        for task, (latency, rate) in _ORIGINAL.items():
            # every task is a pure function of its input: running one twice does no harm
            profiles[task] = {
                "original": TaskProfile(latency_s=latency, fault_rate=rate, idempotent=True),
                "fast": TaskProfile(latency_s=latency * 0.01, fault_rate=rate, idempotent=True),
                "none": TaskProfile(idempotent=True),
                "cpu": TaskProfile(cpu_ms=_CPU_MS, idempotent=True),
                "mixed": TaskProfile(latency_s=latency * 0.01, fault_rate=rate, cpu_ms=_CPU_MS / 4, idempotent=True),
            }[scenario]
        return profiles

    def load_input(self) -> str:
        if self.spec.input_path is not None:
            text = read_input(self.spec.input_path)
        else:
            case = self.spec.case or self.default_case
            if case not in self.cases:
                raise UsageError(
                    f"unknown test case {case!r}{did_you_mean(case, self.cases)} (cases: {', '.join(self.cases)})"
                )
            text = texts.case_text(case)
        words = tasks.get_words(tasks.filter_input(text))
        if not words:
            raise UsageError(f"{self.spec.input_path or 'the input'} has no words")
        longest = max(words, key=len)
        if len(longest) > MAX_WORD_CHARS:
            raise UsageError(
                f"{self.spec.input_path or 'the input'}: a word of {len(longest):,} characters "
                f'("{longest[:20]}…"); a word may have at most {MAX_WORD_CHARS:,} (no dictionary word '
                "comes near)"
            )
        return text

    def prepare(self, raw: str, stage: Any) -> list[str]:
        self._warm_index()
        filtered = stage("filter_input", tasks.filter_input, raw)
        return stage("get_words", tasks.get_words, filtered)

    def _warm_index(self) -> None:
        """Build the dictionary index in a thread while the prepare stages wait out their latency.

        The first item needs the index; loading it then puts its ~0.5 s on the critical path. With no latency to
        hide behind (a CPU-bound scenario), or with caching off (each call reloads), there is nothing to gain.
        """
        if not self.resources.enabled:
            return
        scale = 1.0 if self.spec.latency_scale is None else self.spec.latency_scale
        profiles = self.task_profiles(self.spec.scenario or self.default_scenario)
        if sum(profiles[t].latency_s for t in _PREPARE) * scale <= 0:
            return
        threading.Thread(
            target=self.resources.get, args=(_INDEX, shared_index), name="anagram-index", daemon=True
        ).start()

    def worker_preload(self) -> list[str]:
        return ["orchbench.workloads.anagrams.preload"] if self.resources.enabled else []

    def item_key(self, item: str) -> str:
        return tasks.signature(item)  # words with the same letters have the same anagrams

    def warm(self) -> None:
        if self.resources.enabled:  # with caching off every call reloads it: nothing to keep warm
            self.resources.get(_INDEX, shared_index)

    def map_item(self, item: str) -> tuple[str, ...]:
        loader = shared_index if self.resources.enabled else _index_loader
        return tasks.find_anagrams(item, self.resources.get(_INDEX, loader))

    def reduce(self, values: list[tuple[str, ...]]) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for anagrams in values:
            counts.update(anagrams)
        return dict(counts)

    def reference(self, raw: str) -> dict[str, int]:
        from orchbench.workloads.anagrams.reference import anagram_counts

        return anagram_counts(raw, cached_words())

    def limit_s(self, raw: str, items: list[Any], faults: Any) -> float:
        """The critical path: each prepare stage's attempts in turn, then the slowest item's attempts."""
        prepare = sum(faults.attempts_to_succeed(t, 0) * faults.latency(t) for t in ("filter_input", "get_words"))
        per_item = max((faults.attempts_to_succeed(self.map_task, i) for i in range(len(items))), default=0)
        return prepare + per_item * faults.latency(self.map_task)


@hookimpl
def orchbench_workloads() -> list[type[Workload]]:
    return [AnagramWorkload]


NAIVE = Preset(
    "naive",
    "the original exercise's orchestrator: sequential, no retry, no caching (the dictionary is "
    "reloaded on every call, duplicates recomputed)",
    "sequential",
    {"retry": "none", "retry_options": {}, "cache": False, "memo": False},
)


@hookimpl
def orchbench_presets() -> list[Preset]:
    return [NAIVE]


@hookimpl
def orchbench_commands(app: typer.Typer) -> None:
    from orchbench.workloads.anagrams.benchmark import register

    register(app, AnagramWorkload, NAIVE)
