"""Quiet hours with an injected clock: windows wrapping midnight, 24:00 as an end, timezones,
and both quiet modes (0 = no runs, N = at most one run per N minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.heartbeat.quiet import in_window, local_minute, quiet_decision


def hm(h: int, m: int = 0) -> int:
    return h * 60 + m


@pytest.mark.parametrize(
    ("minute", "window", "quiet"),
    [
        (hm(23), (hm(23), hm(7)), True),
        (hm(23, 59), (hm(23), hm(7)), True),
        (hm(0), (hm(23), hm(7)), True),
        (hm(6, 59), (hm(23), hm(7)), True),
        (hm(7), (hm(23), hm(7)), False),  # the end is exclusive
        (hm(22, 59), (hm(23), hm(7)), False),
        (hm(12), (hm(9), hm(17)), True),
        (hm(17), (hm(9), hm(17)), False),
        (hm(23, 59), (hm(18), hm(24)), True),  # 24:00 as an end
        (hm(0), (hm(18), hm(24)), False),
        (hm(3), (hm(5), hm(5)), False),  # start == end: no window
        (hm(5), (hm(5), hm(5)), False),
        (hm(3), None, False),
    ],
)
def test_in_window(minute: int, window: tuple[int, int] | None, quiet: bool) -> None:
    assert in_window(minute, window) is quiet


def test_the_window_is_in_the_targets_timezone() -> None:
    now = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)  # 23:30 in New York, 10:00 in Kolkata
    assert local_minute(now, "America/New_York") == hm(23, 30)
    assert local_minute(now, "Asia/Kolkata") == hm(10)
    window = (hm(23), hm(7))
    assert quiet_decision(now, window, "America/New_York", 0, None).skip
    assert not quiet_decision(now, window, "Asia/Kolkata", 0, None).skip
    assert quiet_decision(now, window, "UTC", 0, None).skip  # 04:30 UTC


def test_utc_window_across_midnight() -> None:
    window = (hm(23), hm(7))
    assert quiet_decision(datetime(2026, 1, 15, 4, 30, tzinfo=UTC), window, "UTC", 0, None).skip
    assert not quiet_decision(datetime(2026, 1, 15, 7, 0, tzinfo=UTC), window, "UTC", 0, None).skip


def test_summer_time_moves_the_window() -> None:
    window = (hm(23), hm(7))
    winter = datetime(2026, 1, 15, 3, 30, tzinfo=UTC)  # 22:30 EST: not quiet
    summer = datetime(2026, 7, 15, 3, 30, tzinfo=UTC)  # 23:30 EDT: quiet
    assert not quiet_decision(winter, window, "America/New_York", 0, None).skip
    assert quiet_decision(summer, window, "America/New_York", 0, None).skip


def test_quiet_interval_zero_means_no_runs() -> None:
    now = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    decision = quiet_decision(now, (hm(23), hm(7)), "UTC", 0, now - timedelta(days=1))
    assert decision.quiet and decision.skip and "quiet hours 23:00–07:00 (UTC)" in decision.reason


def test_quiet_interval_n_is_a_slower_cadence() -> None:
    window = (hm(23), hm(7))
    now = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    first = quiet_decision(now, window, "UTC", 240, None)
    assert first.quiet and not first.skip
    too_soon = quiet_decision(now, window, "UTC", 240, now - timedelta(minutes=239))
    assert too_soon.skip and "one run per 240 min" in too_soon.reason
    due = quiet_decision(now, window, "UTC", 240, now - timedelta(minutes=240))
    assert not due.skip
    outside = quiet_decision(datetime(2026, 1, 15, 12, 0, tzinfo=UTC), window, "UTC", 240, now)
    assert not outside.quiet and not outside.skip
