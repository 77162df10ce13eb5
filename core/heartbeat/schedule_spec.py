"""The Schedule (spec, action, policy) behind each heartbeat target, and its clock alignment.

Temporal aligns interval specs to the Unix epoch (`epoch + n·every + offset`), which for every
interval dividing a day is "multiples of the interval from midnight UTC" (runs at the same
clock times every day) and stays put across restarts and re-creations. SKIP keeps a run from
overlapping the previous one; a short catch-up window stops a burst of stale runs after an outage.
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

from core.heartbeat.target import HeartbeatTarget
from core.temporal import OPERATOR_QUEUE

HEARTBEAT_WORKFLOW = "HeartbeatWorkflow"
CATCHUP_WINDOW = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(paused=paused, note=note),
    )
