"""Quiet hours: a daily window in a timezone, wrapping midnight when start > end.

Pure functions of `now` (the injected clock; the workflow passes `workflow.now()`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from core.domain.heartbeat.config import format_window


class QuietDecision(BaseModel):
    quiet: bool  # inside the window
    skip: bool  # this run does not happen
    reason: str = ""


def local_minute(now: datetime, timezone: str) -> int:
    local = now.astimezone(ZoneInfo(timezone))
    return local.hour * 60 + local.minute


def in_window(minute: int, window: tuple[int, int] | None) -> bool:
    """`minute` after local midnight is inside [start, end); start == end is no window."""
    if window is None:
        return False
    start, end = window
    if start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps midnight


def quiet_decision(
    now: datetime,
    window: tuple[int, int] | None,
    timezone: str,
    quiet_interval_minutes: int,
    last_executed_at: datetime | None,
) -> QuietDecision:
    """Outside the window: run. Inside: 0 = skip; N > 0 = at most one run per N minutes."""
    if not in_window(local_minute(now, timezone), window):
        return QuietDecision(quiet=False, skip=False)
    where = f"quiet hours {format_window(window)} ({timezone})"
    if quiet_interval_minutes <= 0:
        return QuietDecision(quiet=True, skip=True, reason=where)
    if last_executed_at is not None:
        due = last_executed_at + timedelta(minutes=quiet_interval_minutes)
        if now < due:
            return QuietDecision(
                quiet=True,
                skip=True,
                reason=f"{where}: one run per {quiet_interval_minutes} min, next after "
                f"{due.astimezone(ZoneInfo(timezone)):%H:%M}",
            )
    return QuietDecision(quiet=True, skip=False, reason=f"{where}: slow cadence run")
