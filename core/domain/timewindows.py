"""Times of day, quiet windows and timezones as people write them: parsed and checked, no
clock read."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_hhmm(value: str) -> int:
    """`HH:MM` -> minutes after midnight; `24:00` is allowed (as the end of a window)."""
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"time {value!r} is not HH:MM (00:00-24:00)")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise ValueError(f"time {value!r} is past 24:00")
    return minutes


def parse_quiet_window(value: str) -> tuple[int, int] | None:
    """`HH:MM-HH:MM` -> (start, end) minutes; empty -> no window."""
    value = value.strip()
    if not value:
        return None
    parts = value.split("-")
    if len(parts) != 2:
        raise ValueError(f"quiet hours {value!r} must look like 23:00-07:00")
    start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    if start == 24 * 60:
        raise ValueError("a quiet window cannot start at 24:00")
    return start, end


def validate_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name such as Europe/Berlin)"
        ) from exc
    return value
