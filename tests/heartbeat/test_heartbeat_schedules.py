"""The Temporal Schedules behind heartbeats: SKIP (a long run never overlaps the next), the
`temporal` CLI's view agreeing with the bot's, and the self-pause after repeated failures."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy

from core.domain.heartbeat.target import HeartbeatTarget
from core.io.devserver import find_temporal_cli
from tests.heartbeat.harness import WATCHING, Harness
from tests.support.llm_server import ScriptedLLM, ScriptedReply


def temporal_cli(hb: Harness, *args: str) -> str:
    command = [
        find_temporal_cli(),
        *args,
        "--address",
        hb.settings.temporal_target,
        "--namespace",
        hb.client.namespace,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


async def runs_of(hb: Harness, target: HeartbeatTarget) -> list[tuple[float, float]]:
    spans = []
    query = (
        f"WorkflowType = 'HeartbeatWorkflow' AND WorkflowId STARTS_WITH '{target.schedule_id}-2'"
    )
    async for wf in hb.client.list_workflows(query):
        if wf.close_time is not None:
            spans.append((wf.start_time.timestamp(), wf.close_time.timestamp()))
    return sorted(spans)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{predicate.__name__}() was still false after {timeout:g}s")


async def test_a_heartbeat_schedule_as_temporal_sees_it(hb: Harness) -> None:
    chat = hb.new_chat()
    target = HeartbeatTarget(chat_id=chat)
    await hb.admin.ensure(target, source="auto")
    await hb.admin.set(target, "interval_minutes", "30", None)
    desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
    schedule = desc.schedule
    assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    assert schedule.policy.catchup_window == timedelta(minutes=1)
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=30)]
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "HeartbeatWorkflow" and action.id == target.schedule_id
    assert not schedule.state.paused

    listed = temporal_cli(hb, "schedule", "list")
    assert target.schedule_id in listed
    described = json.loads(
        temporal_cli(hb, "schedule", "describe", "-s", target.schedule_id, "-o", "json")
    )
    assert "HeartbeatWorkflow" in json.dumps(described)
    await hb.admin.toggle(target, False, None)


async def test_cli_toggle_and_trigger_agree_with_the_bot(hb: Harness) -> None:
    chat = hb.new_chat()
    target = HeartbeatTarget(chat_id=chat)
    await hb.admin.ensure(target, source="auto")
    await hb.set(target, **WATCHING)  # so that its run is logged (an idle run is not)
    assert "▶️ on" in await hb.admin.view(target)
    await hb.admin.toggle(target, False, 1001)
    view = await hb.admin.view(target)
    assert "⏸ paused" in view and "turned off by user 1001" in view

    temporal_cli(hb, "schedule", "toggle", "-s", target.schedule_id, "--unpause", "--reason", "ops")
    view = await hb.admin.view(target)
    assert "▶️ on" in view and "ops" in view
    row = await hb.store.get(target)
    assert row is not None and row.enabled

    temporal_cli(hb, "schedule", "toggle", "-s", target.schedule_id, "--pause", "--reason", "night")
    assert "⏸ paused" in await hb.admin.view(target)

    temporal_cli(hb, "schedule", "trigger", "-s", target.schedule_id)  # works while paused

    async def recorded() -> bool:
        return bool(await hb.store.recent_runs(target))

    await wait_until(recorded)
    view = await hb.admin.view(target)
    assert "#1" in view and "posted" in view  # it said once that no LLM is configured


async def test_skip_a_long_run_never_overlaps_the_next(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, workflow_id="slow-test")  # each run takes 2.5 s
    row = await hb.store.get(target)
    assert row is not None
    await hb.admin.schedules.sync_schedule(row, every=timedelta(seconds=1))
    handle = hb.client.get_schedule_handle(target.schedule_id)
    await handle.unpause(note="test")

    async def three_runs_done() -> bool:
        return len(await runs_of(hb, target)) >= 3

    try:
        await wait_until(three_runs_done, timeout=40)
    finally:
        await handle.pause(note="test over")
    spans = await runs_of(hb, target)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"runs overlap: {spans}"
    desc = await handle.describe()
    assert desc.info.num_actions_skipped_overlap > 0


async def test_three_failures_pause_the_schedule_and_say_so_once(
    hb: Harness, llm: ScriptedLLM
) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, prompt="p", workspace_file_path="")
    llm.script = [ScriptedReply(status=400)]
    llm.repeat_last = True
    row = await hb.store.get(target)
    assert row is not None
    await hb.admin.schedules.sync_schedule(row, every=timedelta(seconds=1))
    handle = hb.client.get_schedule_handle(target.schedule_id)
    await hb.admin.toggle(target, True, None)

    async def paused() -> bool:
        return (await handle.describe()).schedule.state.paused

    await wait_until(paused, timeout=40)
    desc = await handle.describe()
    assert "after 3 failed runs" in (desc.schedule.state.note or "")
    runs = await hb.store.recent_runs(target)
    assert [r.outcome for r in runs[:3]] == ["failed"] * 3
    await asyncio.sleep(1.5)  # a run already in flight may still end; the notice stays single
    notices = [m for m in hb.sent_to(chat) if "paused after" in (m.plain_text or "")]
    assert len(notices) == 1 and "/heartbeat on" in (notices[0].plain_text or "")
    view = await hb.admin.view(target)
    assert "⏸ paused" in view and "failed runs" in view

    await hb.admin.toggle(target, True, 1001)
    assert not (await handle.describe()).schedule.state.paused
    row = await hb.store.get(target)
    assert row is not None and row.consecutive_failures == 0 and not row.paused_notice_sent
    await handle.pause(note="test over")
