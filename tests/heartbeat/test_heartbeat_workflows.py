"""Workflow-trigger heartbeats: a registered workflow instead of the prompt; `shared` sessions
refuse a second run while one runs (Temporal's id uniqueness), `isolated` ones do not."""

from __future__ import annotations

import asyncio
import uuid

from core.domain.heartbeat.models import HeartbeatRunSummary
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.models import JobState
from core.domain.temporal_names import OPERATOR_QUEUE
from tests.heartbeat.harness import Harness
from tests.support.visibility import wait_visible


async def start_run(hb: Harness, target: HeartbeatTarget) -> HeartbeatRunSummary:
    handle = await hb.client.start_workflow(
        "HeartbeatWorkflow",
        target,
        id=f"{target.schedule_id}-test-{uuid.uuid4().hex[:8]}",
        task_queue=OPERATOR_QUEUE,
        result_type=HeartbeatRunSummary,
    )
    return await handle.result()


async def test_a_shared_session_runs_once_at_a_time(hb: Harness) -> None:
    target = await hb.target(hb.new_chat(), workflow_id="slow-test", workflow_session_mode="shared")
    first, second = await asyncio.gather(start_run(hb, target), start_run(hb, target))
    outcomes = sorted([first.outcome, second.outcome])
    assert outcomes == ["silent", "skipped"], (first, second)
    skipped = first if first.outcome == "skipped" else second
    assert f"already running ({target.schedule_id}-slow-test)" in skipped.reason
    ran = first if first.outcome == "silent" else second
    assert "slow-test ran as" in ran.reason and "slow run" in ran.reason


async def test_isolated_sessions_each_get_their_own_workflow(hb: Harness) -> None:
    target = await hb.target(
        hb.new_chat(), workflow_id="slow-test", workflow_session_mode="isolated"
    )
    first, second = await asyncio.gather(start_run(hb, target), start_run(hb, target))
    assert first.outcome == second.outcome == "silent", (first, second)
    ids = {r.reason.split(" ran as ")[1].split(":")[0] for r in (first, second)}
    assert len(ids) == 2


async def test_the_built_in_job_digest(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, workflow_id="job-digest")
    nothing = await hb.run(target)
    assert nothing.outcome == "silent" and "no job ended or ran" in nothing.reason
    spec = await hb.start_job(chat, "echo digest-me")
    await hb.wait_job(spec.job_id, JobState.completed)
    await wait_visible(hb.client, f"WorkflowId = '{spec.job_id}' AND ExecutionStatus = 'Completed'")
    summary = await hb.run(target)
    assert summary.outcome == "posted", summary
    digest = [
        m.plain_text or "" for m in hb.sent_to(chat) if "jobs in the last" in (m.plain_text or "")
    ]
    assert len(digest) == 1 and "1 completed" in digest[0] and spec.job_id in digest[0]


async def test_an_unregistered_workflow_fails_the_run(hb: Harness) -> None:
    target = await hb.target(hb.new_chat(), workflow_id="not-registered-anywhere")
    summary = await hb.run(target)
    assert summary.outcome == "failed" and "is not registered" in summary.reason
