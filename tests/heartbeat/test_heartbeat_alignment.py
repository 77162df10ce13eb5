"""Clock alignment: a heartbeat fires on multiples of its interval from the epoch (midnight UTC
for intervals dividing a day), whatever its creation time — the math, and Temporal agreeing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from core.heartbeat.schedule_spec import aligned_fire_times
from tests.heartbeat.harness import Harness


@pytest.mark.parametrize("minutes", [5, 30, 60])
@pytest.mark.parametrize(
    "created",
    [
        datetime(2026, 3, 1, 10, 7, 13, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    ],
)
def test_fire_times_are_multiples_of_the_interval(minutes: int, created: datetime) -> None:
    times = aligned_fire_times(timedelta(minutes=minutes), created, count=5)
    assert times[0] > created and times[0] - created <= timedelta(minutes=minutes)
    for when in times:
        assert when.second == 0 and when.microsecond == 0
        assert (when.hour * 60 + when.minute) % minutes == 0
    assert all(b - a == timedelta(minutes=minutes) for a, b in itertools.pairwise(times))


def test_thirty_minutes_fire_on_the_hour_and_half_hour() -> None:
    times = aligned_fire_times(timedelta(minutes=30), datetime(2026, 3, 1, 10, 7, tzinfo=UTC), 3)
    assert [t.strftime("%H:%M") for t in times] == ["10:30", "11:00", "11:30"]


@pytest.mark.parametrize("minutes", [5, 30, 60])
async def test_temporal_schedules_fire_on_the_same_grid(hb: Harness, minutes: int) -> None:
    target = await hb.target(hb.new_chat(), interval_minutes=minutes)
    row = await hb.store.get(target)
    assert row is not None
    await hb.admin.schedules.sync_schedule(row)
    desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
    upcoming = list(desc.info.next_action_times)[:3]
    assert upcoming == aligned_fire_times(
        timedelta(minutes=minutes), upcoming[0] - timedelta(seconds=1), 3
    )
    for when in upcoming:
        assert when.second == 0 and (when.hour * 60 + when.minute) % minutes == 0
