"""Many targets: their schedules are spread over the interval (each at its own stable offset),
and the idle ones among them cost one step each — no LLM call, no message, no log entry."""

from __future__ import annotations

import asyncio
import collections
import uuid
from datetime import timedelta

from core.domain.heartbeat.models import HeartbeatRunSummary
from core.domain.heartbeat.schedule_spec import spread_offset
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.temporal_names import OPERATOR_QUEUE
from tests.heartbeat.harness import Harness
from tests.support.llm_server import ScriptedLLM
from workflows.heartbeat.workflow import IDLE_REASON

MANY = 120
QUARTER = timedelta(minutes=15)


async def test_many_targets_are_spread_and_idle_ones_cost_one_step(
    hb: Harness, llm: ScriptedLLM
) -> None:
    chats = [hb.new_chat() for _ in range(MANY)]
    targets = [HeartbeatTarget(chat_id=chat) for chat in chats]
    gate = asyncio.Semaphore(16)

    async def provision(target: HeartbeatTarget) -> None:
        async with gate:
            await hb.admin.ensure(target, source="command", enabled=False)

    await asyncio.gather(*(provision(t) for t in targets))

    # Spread: each schedule at its own offset, and the quarter hour evenly used.
    async def offset(target: HeartbeatTarget) -> timedelta:
        async with gate:
            desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
            return desc.schedule.spec.intervals[0].offset or timedelta(0)

    found = await asyncio.gather(*(offset(t) for t in targets))
    mine = {t.schedule_id: o for t, o in zip(targets, found, strict=True)}
    assert mine == {t.schedule_id: spread_offset(t.schedule_id, QUARTER) for t in targets}
    per_minute = collections.Counter(int(o.total_seconds()) // 60 for o in mine.values())
    assert len(per_minute) >= 13  # of 15 minutes (10 expected per minute)
    assert max(per_minute.values()) <= 25  # all at one instant was the old rule: 120
    assert len({o for o in mine.values()}) >= MANY * 0.8  # hardly two at the same second

    # Idle: every run one step (prepare), no LLM call, nothing sent, no log entry.
    async def tick(target: HeartbeatTarget) -> tuple[HeartbeatRunSummary, list[str]]:
        async with gate:
            workflow_id = f"{target.schedule_id}-test-{uuid.uuid4().hex[:8]}"
            summary = await hb.client.execute_workflow(
                "HeartbeatWorkflow",
                target,
                id=workflow_id,
                task_queue=OPERATOR_QUEUE,
                result_type=HeartbeatRunSummary,
            )
            history = await hb.client.get_workflow_handle(workflow_id).fetch_history()
            return summary, [
                e.activity_task_scheduled_event_attributes.activity_type.name
                if e.HasField("activity_task_scheduled_event_attributes")
                else e.marker_recorded_event_attributes.marker_name
                for e in history.events
                if e.HasField("activity_task_scheduled_event_attributes")
                or e.HasField("marker_recorded_event_attributes")
            ]

    results = await asyncio.gather(*(tick(t) for t in targets))
    assert {s.outcome for s, _ in results} == {"silent"}
    assert all(s.reason.startswith(IDLE_REASON) for s, _ in results)
    # The patch marker (this run's step kind), then one activity; no local activity at all.
    assert {tuple(steps) for _, steps in results} == {("core_patch", "heartbeat.prepare")}
    assert llm.requests == []
    assert all(hb.sent_to(chat) == [] for chat in chats)
    for target in targets[:20]:
        assert await hb.store.recent_runs(target) == []
