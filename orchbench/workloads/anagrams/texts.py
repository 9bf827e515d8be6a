"""The anagram workload's test cases: three short texts of our own and two generated corpora."""

from __future__ import annotations

import random

SMALL = "Listen"

MEDIUM = (
    "The night crew drew a silent map of the harbour; every stone, every tide-mark and every rat "
    "that ran along the wet docks was noted."
)

LARGE = (
    "Early on a grey Tuesday the baker unlocked her shop, lit the two old ovens and listened to the "
    "rain on the tin roof. Her apprentice, a tall lad named Evan, arrived late again and muttered "
    "something about a stolen bicycle. She laughed, handed him an apron and pointed at the sacks of "
    "flour. By seven the first loaves were cooling on the racks, the smell drifted into the street, "
    "and a line of sleepy workers formed outside the door. "
    "At noon the sun came out, the puddles shone like silver plates, and the baker sat "
    "down for the first time since dawn, counting coins and smiling at a drawing a child had left "
    "on the counter: a bright, lopsided cake with ten candles and one small dog."
)

# Common words repeat as in real prose; a tail of rarer dictionary words makes the vocabulary realistic.
_COMMON = (
    "the of and to a in is was that it for on with as his he at by be this had not are but from or "
    "have an they which one you were her all she there would their we him been has when who will more "
    "no if out so said what up its about into than them can only other new some could time these two "
    "may then do first any my now such like our over man me even most made after also did many before "
    "must through back years where much your way well down should because each just those people how "
    "too little state good very make world still own see men work long get here between both life being "
    "under never day same another know while last might us great old year off come since against go "
    "came right used take three states himself few house use during without again place around however "
    "home small found thought went say part once general high upon school every does got united left "
    "number course war until always away something fact though water less public put think almost hand "
    "enough far took head yet government system better set told nothing night end why called didn find "
    "going look asked later knew point next city business give group toward young let room president "
    "side social given present several order national possible rather second face per among form often "
    "early important things looked white case john become large big need four within felt along children "
    "saw best church ever least power development light thing seemed family interest want members mind"
).split()
_PUNCTUATION = (",", ",", ".", ";", ":", "!", "?", " -", "'s")


def generated(n_words: int, seed: int = 1) -> str:
    """A deterministic text of ``n_words`` words: Zipf-like repetition, capitals, punctuation and hyphens."""
    from orchbench.workloads.anagrams.dictionary import cached_words

    rng = random.Random(seed)
    rare = rng.sample(sorted(w for w in cached_words() if 3 <= len(w) <= 10), 4000)
    vocabulary = _COMMON + rare
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(vocabulary))]
    words = rng.choices(vocabulary, weights=weights, k=n_words)
    parts: list[str] = []
    sentence_start = True
    for word in words:
        if sentence_start:
            word = word.capitalize()
        sentence_start = False
        roll = rng.random()
        if roll < 0.08:
            mark = rng.choice(_PUNCTUATION)
            word += mark
            sentence_start = mark in (".", "!", "?")
        elif roll < 0.10:
            word += "-" + rng.choice(_COMMON)
        parts.append(word)
        if rng.random() < 0.05:
            parts.append("\n")
    return " ".join(parts)


CASES: dict[str, str] = {
    "small": "one word",
    "medium": "a sentence of 23 words",
    "large": "a paragraph of about 150 words",
    "10k": "a generated text of 10,000 words",
    "1m": "a generated text of 1,000,000 words",
}


def case_text(case: str) -> str:
    if case == "small":
        return SMALL
    if case == "medium":
        return MEDIUM
    if case == "large":
        return LARGE
    if case == "10k":
        return generated(10_000)
    if case == "1m":
        return generated(1_000_000)
    raise KeyError(case)
