"""Repetition detection: three near-identical results in a row earn the next run a
forceful preamble. difflib's ratio, compared pairwise over the last three results; an empty or
suppressed result breaks the chain (decision 022)."""

from __future__ import annotations

from difflib import SequenceMatcher
from itertools import combinations

WINDOW = 3
# SequenceMatcher is quadratic; heartbeat results that differ only beyond this are "the same".
_COMPARE_CHARS = 2000

REPETITION_ALERT = (
    "REPETITION ALERT — Your last several heartbeat outputs are nearly identical. You MUST "
    'produce something substantially different, or say "No updates."'
)


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a[:_COMPARE_CHARS], b[:_COMPARE_CHARS], autojunk=False).ratio()


def is_repeating(recent: list[str | None], threshold: float) -> bool:
    """`recent`: results oldest first; None or "" for a suppressed/empty result."""
    last = recent[-WINDOW:]
    if len(last) < WINDOW or any(not (r or "").strip() for r in last):
        return False
    texts = [(r or "").strip() for r in last]
    return all(similarity(a, b) >= threshold for a, b in combinations(texts, 2))


def repetition_preamble(recent: list[str]) -> str:
    shown = "\n".join(f"{i}. {text[:500]}" for i, text in enumerate(recent[-WINDOW:], 1))
    return f"{REPETITION_ALERT}\nYour previous results:\n{shown}"
