"""Record the workflow histories that tests/workflows/test_replay.py replays.

    .venv/bin/python -m tests.workflows.record_histories

Runs each scenario for real — a local dev server, the product's workers as the heartbeat test
harness runs them (hbo.workers.build_workers), the Bot API emulator, a scripted model where a
scenario needs one — and writes each workflow's history to
tests/workflows/histories/<scenario>--<workflow id>.json (`WorkflowHistory.to_json()`),
replacing the previous recordings. Re-record only after a deliberate, versioned workflow change
(see test_replay.py); the old recordings of a changed workflow are what catches an accidental one.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from bot.types import Incoming
from core.domain.heartbeat.models import HeartbeatRunSummary
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.approval import schedule_approval_id
from core.domain.jobs.models import (
    Approval,
    ApprovalDecision,
    JobSpec,
    JobState,
    ScheduleApproval,
    ScheduleSpec,
)
from core.domain.temporal_names import OPERATOR_QUEUE
from core.io.devserver import DevServer, find_temporal_cli
from tests.heartbeat.harness import Harness, llm_configured, running_harness
from tests.support.jobs import fast_retries, wait_status
from tests.support.llm_server import ScriptedLLM, text
from tests.support.stack import ALLOWED_USER, free_port
from tests.support.visibility import wait_visible

HISTORIES = Path(__file__).resolve().parent / "histories"

Handle = WorkflowHandle[Any, Any]
Scenario = Callable[[Harness], Awaitable[list[tuple[str, Handle]]]]


def _exec(hb: Harness, chat: int, command: str, **update: Any) -> JobSpec:
    spec = hb.operator.planner.exec_job(command, chat_id=chat)
    return spec.model_copy(update=update)


async def _settled(handle: Handle) -> Handle:
    """Until the workflow has closed, however it ended."""
    try:
        await handle.result()
    except Exception:  # failed or cancelled: its history is what the scenario is about
        pass
    return handle


async def job_completed(hb: Harness) -> list[tuple[str, Handle]]:
    """The Telegram path: the card is posted first, then the job runs and edits it."""
    spec = await hb.start_job(hb.new_chat(), "echo recorded")
    return [("job-completed", await _settled(hb.client.get_workflow_handle(spec.job_id)))]


async def job_failed(hb: Harness) -> list[tuple[str, Handle]]:
    """A step that fails, waits for a decision that never comes, and ends failed."""
    spec = fast_retries(_exec(hb, hb.new_chat(), "false", needs_attention_timeout_seconds=1), 1)
    return [("job-failed", await _settled(await hb.operator.jobs.start(spec)))]


async def job_retried(hb: Harness) -> list[tuple[str, Handle]]:
    """A step that fails once, needs attention, is retried by a person and completes."""
    command = "sh -c 'test -e tried || { touch tried; exit 3; }'"
    spec = fast_retries(_exec(hb, hb.new_chat(), command), max_attempts=1)
    handle = await hb.operator.jobs.start(spec)
    await wait_status(hb.client, spec.job_id, JobState.needs_attention)
    await hb.operator.jobs.retry(spec.job_id, user_id=ALLOWED_USER)
    return [("job-retried", await _settled(handle))]


async def job_cancelled(hb: Harness) -> list[tuple[str, Handle]]:
    spec = _exec(hb, hb.new_chat(), "sleep 60")
    handle = await hb.operator.jobs.start(spec)
    await wait_status(hb.client, spec.job_id, JobState.running)
    await hb.operator.jobs.cancel(spec.job_id)
    return [("job-cancelled", await _settled(handle))]


async def _decided(hb: Harness, approve: bool) -> Handle:
    chat = hb.new_chat()
    spec = _exec(hb, chat, f"echo approved={approve}", approval=Approval.required)
    handle = await hb.operator.jobs.start(spec)
    await wait_status(hb.client, spec.job_id, JobState.awaiting_approval)
    decision = ApprovalDecision(user_id=ALLOWED_USER, chat_id=chat)
    await hb.operator.jobs.decide(spec.job_id, approve, decision)
    return await _settled(handle)


async def job_approval(hb: Harness) -> list[tuple[str, Handle]]:
    return [
        ("job-approved", await _decided(hb, approve=True)),
        ("job-denied", await _decided(hb, approve=False)),
    ]


async def _heartbeat(hb: Harness, target: HeartbeatTarget) -> Handle:
    handle: Handle = await hb.client.start_workflow(
        "HeartbeatWorkflow",
        target,
        id=f"{target.schedule_id}-{uuid.uuid4().hex[:8]}",
        task_queue=OPERATOR_QUEUE,
        result_type=HeartbeatRunSummary,
        execution_timeout=timedelta(seconds=60),
    )
    return await _settled(handle)


async def heartbeats(hb: Harness) -> list[tuple[str, Handle]]:
    """An idle run (no model call), a run whose model reply is posted, and a run of the
    built-in job digest (a child workflow) after a job ended."""
    idle = await _heartbeat(hb, await hb.target(hb.new_chat()))
    async with ScriptedLLM([text("The nightly backup is 3 hours late.")]) as llm:
        with llm_configured(hb.settings, llm.base_url):
            prompt = "Check whether the nightly backup finished; report problems only."
            target = await hb.target(hb.new_chat(), prompt=prompt, workspace_file_path="")
            posted = await _heartbeat(hb, target)
    chat = hb.new_chat()
    digest_target = await hb.target(chat, workflow_id="job-digest")
    spec = await hb.start_job(chat, "echo digest-me")
    await _settled(hb.client.get_workflow_handle(spec.job_id))
    await hb.wait_job(spec.job_id, JobState.completed)
    digest = await _heartbeat(hb, digest_target)
    query = (
        f"WorkflowType = 'JobDigestWorkflow' "
        f"AND WorkflowId STARTS_WITH '{digest_target.schedule_id}'"
    )
    await wait_visible(hb.client, query)
    children = [
        hb.client.get_workflow_handle(wf.id) async for wf in hb.client.list_workflows(query)
    ]
    return [
        ("heartbeat-idle", idle),
        ("heartbeat-posted", posted),
        ("heartbeat-job-digest", digest),
        ("job-digest", children[0]),
    ]


async def schedule_approved(hb: Harness) -> list[tuple[str, Handle]]:
    """A recurring job an LLM wrote waits, paused, and is approved once."""
    chat = hb.new_chat()
    spec = _exec(hb, chat, "echo every-hour", approval=Approval.required)
    deadline = datetime.now(UTC) + timedelta(hours=1)
    schedules = hb.operator.schedules
    schedule_id = await schedules.create(
        spec, ScheduleSpec(every_seconds=3600), approval_deadline=deadline
    )
    try:
        handle: Handle = await hb.client.start_workflow(
            "ScheduleApprovalWorkflow",
            ScheduleApproval(schedule_id=schedule_id, chat_id=chat, requested_by=ALLOWED_USER),
            id=schedule_approval_id(schedule_id),
            task_queue=OPERATOR_QUEUE,
        )
        decision = ApprovalDecision(user_id=ALLOWED_USER, chat_id=chat)
        await handle.execute_update("approve", decision, result_type=str)
        return [("schedule-approved", await _settled(handle))]
    finally:
        await schedules.delete(schedule_id)


async def stats(hb: Harness) -> list[tuple[str, Handle]]:
    chat = hb.new_chat()
    await hb.operator.handle(Incoming(user_id=ALLOWED_USER, chat_id=chat, text="/stats"))
    query = f"WorkflowType = 'StatsWorkflow' AND WorkflowId STARTS_WITH 'stats-{chat}-'"
    await wait_visible(hb.client, query)
    (run,) = [wf async for wf in hb.client.list_workflows(query)]
    return [("stats", await _settled(hb.client.get_workflow_handle(run.id)))]


SCENARIOS: list[Scenario] = [
    job_completed,
    job_failed,
    job_retried,
    job_cancelled,
    job_approval,
    heartbeats,
    schedule_approved,
    stats,
]


async def record() -> dict[str, str]:
    """Run every scenario on a fresh dev server: {file name: history JSON}."""
    server = DevServer(find_temporal_cli(), port=free_port(), ui_port=None, db_file=None)
    await server.start()
    recorded: dict[str, str] = {}
    try:
        admin = await Client.connect(server.target, data_converter=pydantic_data_converter)
        with tempfile.TemporaryDirectory(prefix="hbo-record-") as data:
            async with running_harness(server.target, admin, Path(data)) as hb:
                for scenario in SCENARIOS:
                    for name, handle in await scenario(hb):
                        history = await handle.fetch_history()
                        recorded[f"{name}--{handle.id}.json"] = history.to_json()
    finally:
        await server.stop()
    return recorded


def replace_recordings(recorded: dict[str, str], out: Path = HISTORIES) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    for name, history in recorded.items():
        (out / name).write_text(history + "\n", encoding="utf-8")
        print(f"{out.name}/{name}")


def main() -> int:
    replace_recordings(asyncio.run(record()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
