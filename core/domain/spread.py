"""A stable place inside an interval for each schedule, so schedules sharing an interval are
spread over it instead of all firing at the same epoch-aligned instant."""

from __future__ import annotations

import hashlib
from datetime import timedelta


def spread_offset(key: str, every: timedelta) -> timedelta:
    """A stable offset in whole seconds inside `every`, from `key` (a schedule's id): the same
    key always gets the same offset; many keys spread evenly over the interval."""
    seconds = int(every.total_seconds())
    if seconds <= 1:
        return timedelta(0)
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % seconds)
