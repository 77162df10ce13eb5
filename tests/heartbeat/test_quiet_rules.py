"""Quiet-hour edges the table in test_heartbeat_quiet.py leaves open: a window's first minute,
a one-minute cadence, and the reasons a skipped or slow run records (in the target's zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain.heartbeat.quiet import in_window, quiet_decision


def hm(h: int, m: int = 0) -> int:
    return h * 60 + m


def test_a_window_includes_its_first_minute() -> None:
    assert in_window(hm(9), (hm(9), hm(17)))
    assert not in_window(hm(8, 59), (hm(9), hm(17)))


def test_a_one_minute_cadence_is_a_cadence_not_a_skip() -> None:
    now = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    due = quiet_decision(now, (hm(23), hm(7)), "UTC", 1, now - timedelta(minutes=1))
    assert due.quiet and not due.skip and due.reason.endswith(": slow cadence run")
    soon = quiet_decision(now, (hm(23), hm(7)), "UTC", 1, now - timedelta(seconds=30))
    assert soon.quiet and soon.skip


def test_a_skipped_run_says_when_the_next_one_comes_in_the_targets_zone() -> None:
    now = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)  # 23:30 in New York
    decision = quiet_decision(
        now, (hm(23), hm(7)), "America/New_York", 60, now - timedelta(minutes=10)
    )
    assert decision.quiet and decision.skip
    assert decision.reason == (
        "quiet hours 23:00–07:00 (America/New_York): one run per 60 min, next after 00:20"
    )
