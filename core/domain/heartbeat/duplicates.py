"""Duplicate alerts: a heartbeat result the same target was already shown within the window is
not posted again (decision 036).

"The same" is compared on a normalised form: Unicode NFKC, case folded, every run of
whitespace (no-break spaces included) one space, no leading or trailing space. Anything else
that differs — a number, a word, punctuation — makes it a new alert. Pure functions: the
workflow may call them; the store keeps only the fingerprints.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import timedelta

DUPLICATE_WINDOW = timedelta(hours=24)


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def fingerprint(text: str) -> str:
    """sha256 of the normalised text (64 hex characters)."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def first_of_each(texts: list[str]) -> list[str]:
    """The texts without the repeats inside one run (first occurrence kept, order kept)."""
    seen: set[str] = set()
    kept = []
    for text in texts:
        key = fingerprint(text)
        if key not in seen:
            seen.add(key)
            kept.append(text)
    return kept
