"""Where in its interval a heartbeat fires: by default at its own stable offset (from its id), so
many targets with the same interval are spread over it; `clock_aligned` keeps multiples of the
interval from the epoch (midnight UTC for intervals dividing a day) — the math, and Temporal
agreeing, and old epoch-aligned schedules moved to their offset by a sync."""

from __future__ import annotations

import collections
import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import ScheduleIntervalSpec, ScheduleSpec, ScheduleUpdate

from core.domain.heartbeat.schedule_spec import aligned_fire_times, spread_offset
from core.domain.heartbeat.target import HeartbeatTarget
from tests.heartbeat.harness import Harness

QUARTER = timedelta(minutes=15)


@pytest.mark.parametrize("minutes", [5, 30, 60])
@pytest.mark.parametrize(
    "created",
    [
        datetime(2026, 3, 1, 10, 7, 13, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    ],
)
def test_clock_aligned_fire_times_are_multiples_of_the_interval(
    minutes: int, created: datetime
) -> None:
    times = aligned_fire_times(timedelta(minutes=minutes), created, count=5)
    assert times[0] > created and times[0] - created <= timedelta(minutes=minutes)
    for when in times:
        assert when.second == 0 and when.microsecond == 0
        assert (when.hour * 60 + when.minute) % minutes == 0
    assert all(b - a == timedelta(minutes=minutes) for a, b in itertools.pairwise(times))


def test_thirty_minutes_clock_aligned_fire_on_the_hour_and_half_hour() -> None:
    times = aligned_fire_times(timedelta(minutes=30), datetime(2026, 3, 1, 10, 7, tzinfo=UTC), 3)
    assert [t.strftime("%H:%M") for t in times] == ["10:30", "11:00", "11:30"]


def test_a_targets_offset_is_stable_and_inside_its_interval() -> None:
    for chat in range(1, 200):
        key = HeartbeatTarget(chat_id=chat).schedule_id
        offset = spread_offset(key, QUARTER)
        assert timedelta(0) <= offset < QUARTER and offset.microseconds == 0
        assert spread_offset(key, QUARTER) == offset  # the same id, the same offset
    # The cadence is fixed: runs one interval apart, at the same second of each quarter.
    offset = spread_offset("heartbeat-42", QUARTER)
    times = aligned_fire_times(QUARTER, datetime(2026, 3, 1, 10, 7, tzinfo=UTC), 4, offset)
    assert all(b - a == QUARTER for a, b in itertools.pairwise(times))
    assert len({(t.minute % 15, t.second) for t in times}) == 1


def test_ten_thousand_targets_are_spread_over_the_interval() -> None:
    """The herd is gone: no instant of the quarter hour holds more than a small share."""
    offsets = [
        spread_offset(HeartbeatTarget(chat_id=5_000_000 + i).schedule_id, QUARTER)
        for i in range(10_000)
    ]
    per_second = collections.Counter(int(o.total_seconds()) for o in offsets)
    per_minute = collections.Counter(int(o.total_seconds()) // 60 for o in offsets)
    assert max(per_second.values()) <= 30  # 11 on average; all at :00 was 10,000
    assert len(per_minute) == 15
    assert max(per_minute.values()) <= 10_000 / 15 * 1.15
    assert min(per_minute.values()) >= 10_000 / 15 * 0.85


@pytest.mark.parametrize("minutes", [5, 30, 60])
async def test_temporal_fires_each_target_at_its_own_offset(hb: Harness, minutes: int) -> None:
    every = timedelta(minutes=minutes)
    targets = [await hb.target(hb.new_chat(), interval_minutes=minutes) for _ in range(3)]
    for target in targets:
        row = await hb.store.get(target)
        assert row is not None
        await hb.admin.schedules.sync_schedule(row)
        desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
        offset = spread_offset(target.schedule_id, every)
        assert desc.schedule.spec.intervals[0].offset == offset
        upcoming = list(desc.info.next_action_times)[:3]
        assert upcoming == aligned_fire_times(every, upcoming[0] - timedelta(seconds=1), 3, offset)


@pytest.mark.parametrize("minutes", [5, 30, 60])
async def test_a_clock_aligned_target_fires_on_the_grid(hb: Harness, minutes: int) -> None:
    target = await hb.target(hb.new_chat(), interval_minutes=minutes)
    await hb.admin.set(target, "clock_aligned", "true", None)
    desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
    upcoming = list(desc.info.next_action_times)[:3]
    assert upcoming == aligned_fire_times(
        timedelta(minutes=minutes), upcoming[0] - timedelta(seconds=1), 3
    )
    for when in upcoming:
        assert when.second == 0 and (when.hour * 60 + when.minute) % minutes == 0
    # And back to its own offset when the person unsets it.
    await hb.admin.unset(target, "clock_aligned")
    desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
    assert desc.schedule.spec.intervals[0].offset == spread_offset(
        target.schedule_id, timedelta(minutes=minutes)
    )


async def test_a_sync_moves_an_epoch_aligned_schedule_to_its_offset(hb: Harness) -> None:
    """Schedules made before the spread (every target at :00, :15 …) get their offset at the
    next start-up's sync; their pause state is kept."""
    target = await hb.target(hb.new_chat())
    handle = hb.client.get_schedule_handle(target.schedule_id)
    old_spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=QUARTER)])
    await handle.update(
        lambda current: ScheduleUpdate(
            schedule=dataclasses.replace(current.description.schedule, spec=old_spec)
        )
    )
    assert not (await handle.describe()).schedule.spec.intervals[0].offset
    changed = await hb.admin.schedules.sync_all()
    assert f"synced {target.schedule_id}" in changed
    desc = await handle.describe()
    assert desc.schedule.spec.intervals[0].offset == spread_offset(target.schedule_id, QUARTER)
    assert desc.schedule.state.paused  # the harness's targets are paused; a sync keeps that
