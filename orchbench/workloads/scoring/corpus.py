"""Generated input texts for the scoring workload: deterministic, with repeated lines and blank lines.

Real log-like or prose files repeat some lines very often and most lines rarely. The generator draws each line
from a pool of distinct sentences with Zipf-like weights (rank ``k`` has weight ``1 / k**ZIPF_S``), so a few
lines recur many times and a long tail appears once or not at all; about ``BLANK_SHARE`` of the lines are blank
(mostly empty, some white space only). The sentences are assembled from small word lists in this module.
"""

from __future__ import annotations

import bisect
import itertools
import random

CASE_LINES: dict[str, int] = {"small": 50, "1k": 1_000, "original": 20_507, "100k": 100_000}
CASE_HELP: dict[str, str] = {
    "small": "50 generated lines (for tests)",
    "1k": "1,000 generated lines",
    "original": "20,507 generated lines (the line count of the original exercise)",
    "100k": "100,000 generated lines",
}

BLANK_SHARE = 0.05
POOL_SHARE = 1.0  # distinct sentences available, as a share of the line count
ZIPF_S = 0.6  # about half the non-blank lines are distinct; the commonest recurs hundreds of times

_ADJECTIVES = (
    "amber",
    "brisk",
    "copper",
    "dusty",
    "eager",
    "faded",
    "gentle",
    "hollow",
    "idle",
    "jagged",
    "keen",
    "lucid",
    "mellow",
    "narrow",
    "opaque",
    "patient",
    "quiet",
    "rusty",
    "sturdy",
    "tidy",
    "uneven",
    "vivid",
    "weary",
    "young",
    "zesty",
    "naïve",
    "crisp",
    "dim",
    "frozen",
    "spare",
)
_NOUNS = (
    "lantern",
    "harbour",
    "ledger",
    "kettle",
    "orchard",
    "signal",
    "bridge",
    "courier",
    "furnace",
    "glacier",
    "meadow",
    "pylon",
    "quarry",
    "rudder",
    "satchel",
    "tunnel",
    "valve",
    "workshop",
    "beacon",
    "cistern",
    "compass",
    "ferry",
    "gantry",
    "hinge",
    "island",
    "junction",
    "loom",
    "mill",
    "router",
    "spindle",
)
_VERBS = (
    "checks",
    "repairs",
    "follows",
    "borrows",
    "counts",
    "paints",
    "measures",
    "loads",
    "watches",
    "sorts",
    "lifts",
    "polishes",
    "records",
    "sends",
    "tests",
    "weighs",
    "crosses",
    "guards",
    "opens",
    "drains",
)
_ADVERBS = (
    "slowly",
    "twice",
    "at dawn",
    "after lunch",
    "without a map",
    "again",
    "by hand",
    "in silence",
    "before the rain",
    "every Tuesday",
    "with care",
    "in a hurry",
    "once more",
    "near midnight",
)
_PLACES = (
    "near the old mill",
    "in Brackenford",
    "behind the depot",
    "on pier 7",
    "at Kestrel Point",
    "in Zürich",
    "under the viaduct",
    "beside the canal",
    "in the back office",
    "on the night shift",
    "at the café",
    "in sector 12",
    "past the weir",
    "on the upper deck",
    "in Lowmere",
)
_PEOPLE = (
    "The clerk",
    "A courier",
    "The foreman",
    "Our neighbour",
    "The pilot",
    "A stranger",
    "The keeper",
    "Inspector Hale",
    "The apprentice",
    "Mira",
    "Tomás",
    "The night guard",
    "Old Brannock",
    "The surveyor",
)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _sentence(rng: random.Random) -> str:
    form = rng.randrange(6)
    adj, noun = rng.choice(_ADJECTIVES), rng.choice(_NOUNS)
    if form == 0:
        return f"{rng.choice(_PEOPLE)} {rng.choice(_VERBS)} the {adj} {noun} {rng.choice(_PLACES)}."
    if form == 1:
        return f"The {adj} {noun} {rng.choice(_VERBS)} the {rng.choice(_NOUNS)} {rng.choice(_ADVERBS)}."
    if form == 2:
        n = rng.randrange(2, 400)
        return f"{n} {noun}s were logged {rng.choice(_PLACES)}, all of them {adj}."
    if form == 3:
        who = rng.choice(_PEOPLE)
        who = who[0].lower() + who[1:] if who.split()[0] in ("The", "A", "Our") else who
        return f"Why does {who} keep the {noun} so {adj}?"
    if form == 4:
        return (
            f"{rng.choice(_PEOPLE)} {rng.choice(_VERBS)} {_article(noun)} {noun} {rng.choice(_ADVERBS)}; "
            f"the {rng.choice(_NOUNS)} stays {adj} {rng.choice(_PLACES)}."
        )
    return f"note {rng.randrange(10_000):04d}: {adj} {noun}, {rng.choice(_ADVERBS)}"


def _pool(rng: random.Random, size: int) -> list[str]:
    seen: set[str] = set()
    pool: list[str] = []
    while len(pool) < size:
        sentence = _sentence(rng)
        if sentence not in seen:
            seen.add(sentence)
            pool.append(sentence)
    return pool


def generate_corpus(n_lines: int, seed: int = 0) -> str:
    """``n_lines`` lines of generated text, each ending with a newline; the same arguments give the same text."""
    if n_lines < 0:
        raise ValueError(f"n_lines must not be negative, not {n_lines}")
    if n_lines == 0:
        return ""
    rng = random.Random(f"orchbench-corpus:{seed}")
    pool = _pool(rng, max(1, round(n_lines * POOL_SHARE)))
    cumulative = list(itertools.accumulate(1.0 / (rank**ZIPF_S) for rank in range(1, len(pool) + 1)))
    total = cumulative[-1]
    lines = []
    for _ in range(n_lines):
        if rng.random() < BLANK_SHARE:
            lines.append("" if rng.random() < 0.8 else " " * rng.randrange(1, 4))
        else:
            rank = min(bisect.bisect_right(cumulative, rng.random() * total), len(pool) - 1)
            lines.append(pool[rank])
    return "\n".join(lines) + "\n"


def case_corpus(case: str) -> str:
    """The text of a named case (always generated with seed 0, so a case means the same text in every run)."""
    return generate_corpus(CASE_LINES[case], seed=0)
