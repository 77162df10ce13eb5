"""An idle heartbeat: nothing changed, nothing to follow — one step, no LLM call, no message."""

from __future__ import annotations

import uuid

from core.domain.heartbeat.models import HeartbeatRunSummary
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.temporal_names import OPERATOR_QUEUE
from tests.heartbeat.harness import WATCHING, Harness
from tests.support.llm_server import ScriptedLLM
from workflows.heartbeat.workflow import IDLE_REASON


async def test_an_idle_heartbeat_is_silent_and_free(hb: Harness, llm: ScriptedLLM) -> None:
    """Nothing to watch (no job, a checklist without items, no trigger): one step, then done —
    no LLM call, no message, no log entry."""
    chat = hb.new_chat()
    target = await hb.target(chat)
    summary, steps = await run_with_steps(hb, target)
    assert summary.outcome == "silent" and summary.reason.startswith(IDLE_REASON), summary
    assert "created HEARTBEAT.md" in summary.reason
    assert steps == ["heartbeat.prepare"]
    # The check created HEARTBEAT.md from the template; it has no items.
    checklist = hb.settings.workspaces_dir / target.workspace_folder / "HEARTBEAT.md"
    assert checklist.is_file()
    second, steps = await run_with_steps(hb, target)
    assert (second.outcome, second.reason, steps) == ("silent", IDLE_REASON, ["heartbeat.prepare"])
    assert llm.requests == []
    assert hb.sent_to(chat) == []
    assert await hb.store.recent_runs(target) == []


async def test_something_to_watch_ends_the_idle_path(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, **WATCHING)
    summary, steps = await run_with_steps(hb, target)
    assert summary.outcome == "posted" and "no LLM is configured" in summary.reason
    assert steps[0] == "heartbeat.prepare" and "heartbeat.record_run" in steps
    assert [r.outcome for r in await hb.store.recent_runs(target)] == ["posted"]


async def run_with_steps(
    hb: Harness, target: HeartbeatTarget
) -> tuple[HeartbeatRunSummary, list[str]]:
    """One run, and the activities its history scheduled (local ones appear as markers)."""
    workflow_id = f"{target.schedule_id}-test-{uuid.uuid4().hex[:8]}"
    summary = await hb.client.execute_workflow(
        "HeartbeatWorkflow",
        target,
        id=workflow_id,
        task_queue=OPERATOR_QUEUE,
        result_type=HeartbeatRunSummary,
    )
    history = await hb.client.get_workflow_handle(workflow_id).fetch_history()
    steps = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert not [
        e
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    return summary, steps
