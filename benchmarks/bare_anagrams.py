"""The anagram pipeline as a plain asyncio script, without orchbench's harness: the reference for target 4.

Same work and same latency model as ``orchbench run asyncio -t large --scenario original``: the same task functions
and dictionary, the same latencies (1 s, 1 s, 0.25 s), the same deterministic faults (the same draw of
(seed, task, item, attempt)), the same retry rule (10 attempts, full-jitter exponential backoff from 10 ms capped
at 2 s), duplicates by signature run once, 256 items in flight, the dictionary index built in a thread while the
first stages wait. It prints one JSON line: wall seconds (prepare to output, the window orchbench measures),
peak RSS bytes (``ru_maxrss``) and the output's size.

    python benchmarks/bare_anagrams.py --seed 0
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import resource
import time
from collections import Counter

from orchbench.workloads.anagrams import tasks, texts
from orchbench.workloads.anagrams.dictionary import load_words

LATENCY = {"filter_input": 1.0, "get_words": 1.0, "find_anagrams": 0.25}
FAULT_RATE = {"filter_input": 0.20, "get_words": 0.25, "find_anagrams": 0.10}
MAX_ATTEMPTS, BASE, CAP = 10, 0.01, 2.0
CONCURRENCY = 256


class Fault(Exception):
    pass


def draw(seed: int, task: str, index: int, attempt: int) -> float:
    digest = hashlib.blake2b(f"{seed}\0{task}\0{index}\0{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


async def with_retry(seed: int, task: str, index: int, fn, arg):
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await asyncio.sleep(LATENCY[task])
        if draw(seed, task, index, attempt) >= FAULT_RATE[task]:
            return fn(arg)
        if attempt == MAX_ATTEMPTS:
            raise Fault(f"{task} failed on item {index}")
        await asyncio.sleep(random.uniform(0, min(CAP, BASE * 2 ** (attempt - 1))))


async def pipeline(text: str, seed: int) -> dict[str, int]:
    index_ready = asyncio.ensure_future(asyncio.to_thread(lambda: tasks.build_index(load_words())))
    filtered = await with_retry(seed, "filter_input", 0, tasks.filter_input, text)
    words = await with_retry(seed, "get_words", 0, tasks.get_words, filtered)
    unique = list(dict.fromkeys(tasks.signature(w) for w in words))
    first = {}
    for w in words:
        first.setdefault(tasks.signature(w), w)
    index = await index_ready
    found: dict[str, tuple[str, ...]] = {}

    def lookup(word: str) -> tuple[str, ...]:
        return tasks.find_anagrams(word, index)

    source = iter(enumerate(unique))

    async def worker() -> None:
        for i, sig in source:
            found[sig] = await with_retry(seed, "find_anagrams", i, lookup, first[sig])

    await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, len(unique)))))
    counts: Counter[str] = Counter()
    for w in words:
        counts.update(found[tasks.signature(w)])
    return dict(counts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--case", default="large")
    args = p.parse_args()
    text = texts.case_text(args.case)
    started = time.perf_counter()
    output = asyncio.run(pipeline(text, args.seed))
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall_s": wall, "peak_rss": peak, "words": len(output)}))


if __name__ == "__main__":
    main()
