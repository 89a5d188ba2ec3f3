"""Word-overlap helpers shared by the demo's retriever and its stand-in model and judge.

Deliberately crude (lower-case words, stop words dropped, a five-letter prefix as the stem): the
demo needs deterministic, explainable numbers, not good retrieval.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[a-z0-9)][.])(?=[A-Z])")
_STOP = """a an and are as at be been but by can did do does for from had has have he her his how
    i in into is it its my no not of on or she than that the their them then there these they
    this to was we were what when where which who whom whose why will with you your"""
STOP_WORDS = frozenset(_STOP.split())


def words(text: str) -> set[str]:
    """Content-word stems of `text` (`"Refunds are issued"` -> `{"refun", "issue"}`)."""
    return {w[:5] for w in _WORD.findall(text.lower()) if w not in STOP_WORDS}


def overlap(query: str, text: str) -> float:
    """Share of the query's content words found in `text` (0.0 for an empty query)."""
    q = words(query)
    return len(q & words(text)) / len(q) if q else 0.0


def sentences(text: str) -> list[str]:
    """`text` cut into sentences (also where a full stop is glued to the next sentence)."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (`hash()` of a str is salted)."""
    value = 0
    for ch in text:
        value = (value * 131 + ord(ch)) % 1_000_003
    return value


__all__ = ["STOP_WORDS", "overlap", "sentences", "stable_hash", "words"]
