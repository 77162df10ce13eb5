"""The Schedule (spec, action, policy) behind each heartbeat target, and where in its interval
it fires.

Temporal places interval runs at `epoch + n·every + offset`. Each target gets its own stable
offset inside the interval, derived from its id (`spread_offset`): its cadence is fixed and
stays put across restarts and re-creations, while ten thousand targets with the same interval
fire spread over it instead of all at one instant. A target set to `clock_aligned` keeps offset
0 — multiples of the interval from midnight UTC for every interval dividing a day (a 15-minute
heartbeat at :00, :15, :30, :45). SKIP keeps a run from overlapping the previous one; a short
catch-up window stops a burst of stale runs after an outage.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.spread import spread_offset
from core.domain.temporal_names import OPERATOR_QUEUE

__all__ = ["aligned_fire_times", "build_schedule", "schedule_offset", "spread_offset"]

HEARTBEAT_WORKFLOW = "HeartbeatWorkflow"
CATCHUP_WINDOW = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def schedule_offset(schedule_id: str, every: timedelta, *, clock_aligned: bool) -> timedelta:
    """Where in each interval a schedule fires: 0 when a person asked for clock-aligned times,
    else its own stable spread offset."""
    return timedelta(0) if clock_aligned else spread_offset(schedule_id, every)


def aligned_fire_times(
    every: timedelta, after: datetime, count: int = 3, offset: timedelta = timedelta(0)
) -> list[datetime]:
    """The next `count` times strictly after `after` on the grid epoch + n·every + offset."""
    if every <= timedelta(0):
        raise ValueError("the interval must be positive")
    step = every // timedelta(microseconds=1)
    since = (after - EPOCH - offset) // timedelta(microseconds=1)
    first = (since // step + 1) * step
    return [EPOCH + offset + timedelta(microseconds=first + i * step) for i in range(count)]


def build_schedule(
    target: HeartbeatTarget,
    *,
    every: timedelta,
    clock_aligned: bool = False,
    paused: bool,
    note: str,
    settings_summary: dict[str, object],
) -> Schedule:
    """The schedule for one target; its action starts HeartbeatWorkflow(target).

    The per-target overrides are mirrored into the action's memo so the Web UI and
    `temporal schedule describe` show them; the database stays the source the run reads."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            HEARTBEAT_WORKFLOW,
            target,
            id=target.schedule_id,  # Temporal appends the scheduled time to each run's id
            task_queue=OPERATOR_QUEUE,
            memo={"target": target.describe(), "settings": json.dumps(settings_summary)},
            static_summary=f"Heartbeat for {target.describe()}",
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(
                    every=every,
                    offset=schedule_offset(target.schedule_id, every, clock_aligned=clock_aligned),
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(paused=paused, note=note),
    )
