"""Recovery on native Temporal features, against the real dev server and workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from core.domain.ids import workspace_name
from core.domain.jobs.models import JobState, StepInput, StepOutput
from core.io.jobs.client import JobActionError
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import fast_retries, wait_closed, wait_status
from tests.support.stack import Stack


def _workspace(stack: Stack, chat_id: int, job_id: str):  # type: ignore[no-untyped-def]
    return stack.settings.workspaces_dir / workspace_name(chat_id, job_id)


async def test_a_flaky_step_is_retried_and_succeeds(stack: Stack, botapi: BotApiEmulator) -> None:
    chat = 3001
    cmd = "sh -c 'if [ -f tried ]; then echo second-time-lucky; else touch tried; exit 7; fi'"
    spec = fast_retries(stack.operator.planner.exec_job(cmd, chat_id=chat), max_attempts=3)
    handle = await stack.operator.jobs.start(spec)
    result = await handle.result()
    assert result.state is JobState.completed
    assert "second-time-lucky" in result.outputs[0].output
    done = await botapi.wait_for_shown(lambda m: m.chat_id == chat and "completed" in m.plain_text)
    assert "second-time-lucky" in done.plain_text


async def test_exhausted_retries_wait_for_a_decision_and_retry_resumes_at_the_failed_step(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 3002
    spec = stack.operator.planner.plan(
        goal="count, then wait for a go file",
        steps=[
            ("execution", {"command": "sh -c 'echo ran >> counter'"}),
            ("execution", {"command": "test -f go"}),
        ],
        chat_id=chat,
    )
    spec = fast_retries(spec, max_attempts=2)
    handle = await stack.operator.jobs.start(spec)
    status = await wait_status(client, spec.job_id, JobState.needs_attention)
    assert status.step_index == 1 and "exited with code 1" in status.last_error
    msg = await botapi.wait_for_shown(
        lambda m: m.chat_id == chat and "needs attention" in m.plain_text
    )
    assert {f"retry:{spec.job_id}", f"reroute:{spec.job_id}", f"cancel:{spec.job_id}"} <= set(
        msg.callback_data
    )

    # Retry on a job that is not waiting is refused at once, with the reason.
    (_workspace(stack, spec.report_chat_id, spec.job_id) / "go").write_text("")
    answer = await stack.operator.jobs.retry(spec.job_id, user_id=1)
    assert "retrying step 2" in answer
    result = await handle.result()
    assert result.state is JobState.completed
    # The first step ran exactly once: its output was kept, not recomputed.
    assert (_workspace(stack, spec.report_chat_id, spec.job_id) / "counter").read_text() == "ran\n"
    with pytest.raises(JobActionError, match="has ended"):
        await stack.operator.jobs.retry(spec.job_id, user_id=1)


async def test_a_retry_that_fails_again_is_told_again_once(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    """Each failure after a retry is its own change: told once, not taken as already told."""
    chat = 3007
    spec = fast_retries(stack.operator.planner.exec_job("false", chat_id=chat), max_attempts=1)
    await stack.operator.jobs.start(spec)

    def attention() -> list[str]:
        return [
            m.plain_text or ""
            for m in botapi.messages_to(chat)
            if spec.job_id in (m.plain_text or "") and "needs attention" in (m.plain_text or "")
        ]

    await wait_status(client, spec.job_id, JobState.needs_attention, episode=1)
    await botapi.wait_for_shown(lambda m: m.chat_id == chat and len(attention()) >= 1)
    assert "retrying step 1" in await stack.operator.jobs.retry(spec.job_id, user_id=1)
    await wait_status(client, spec.job_id, JobState.needs_attention, episode=2)
    await botapi.wait_for_shown(lambda m: m.chat_id == chat and len(attention()) >= 2)
    ledger = await stack.runtime.ledger.last_reported([spec.job_id])
    assert ledger[spec.job_id] == "needs_attention#2"
    # Cancelled and ended: the workflow waited for each of its sends, so a repeat of the
    # second failure would be in the chat by now.
    await stack.operator.jobs.cancel(spec.job_id)
    await wait_closed(client, spec.job_id)
    assert len(attention()) == 2


async def test_validators_refuse_at_once(stack: Stack, client: Client) -> None:
    spec = stack.operator.planner.exec_job("sleep 5", chat_id=3003)
    await stack.operator.jobs.start(spec)
    await wait_status(client, spec.job_id, JobState.running)
    started = time.monotonic()
    with pytest.raises(JobActionError, match="retry applies to a job that needs attention"):
        await stack.operator.jobs.retry(spec.job_id, user_id=1)
    with pytest.raises(JobActionError, match="is running; reroute it once it needs attention"):
        await stack.operator.jobs._update(  # the next pending step is reporting, index 1 is fine;
            spec.job_id,
            "reroute",
            {
                "worker": "execution",
                "task_queue": "execution",
                "activity": "execution.run",
                "step_index": 0,
            },
        )
    assert time.monotonic() - started < 5
    meta = await stack.operator.jobs.update_metadata(spec.job_id, {"owner": "ops"}, user_id=1)
    assert "ops" in meta
    with pytest.raises(JobActionError, match="metadata keys"):
        await stack.operator.jobs.update_metadata(spec.job_id, {"": "x"}, user_id=1)
    await stack.operator.jobs.cancel(spec.job_id)


@activity.defn(name="execution.run")
async def always_broken(step: StepInput) -> StepOutput:
    raise ApplicationError("this worker's disk is full", type="BadCommand", non_retryable=True)


async def test_reroute_moves_a_failed_step_to_another_worker(stack: Stack, client: Client) -> None:
    """A step sent to a broken worker's queue needs attention; reroute runs it on execution."""
    chat = 3004
    spec = stack.operator.planner.exec_job("echo rerouted-ok", chat_id=chat)
    broken = spec.steps[0].model_copy(update={"worker": "broken", "task_queue": "broken-queue"})
    spec = spec.model_copy(update={"steps": [broken, *spec.steps[1:]]})
    async with Worker(client, task_queue="broken-queue", activities=[always_broken]):
        handle = await stack.operator.jobs.start(spec)
        status = await wait_status(client, spec.job_id, JobState.needs_attention)
        assert "disk is full" in status.last_error
    answer = await stack.operator.jobs.reroute(spec.job_id, "execution", user_id=1)
    assert "from broken to execution" in answer
    result = await handle.result()
    assert result.state is JobState.completed and "rerouted-ok" in result.outputs[0].output
    desc = await handle.describe()
    assert (
        desc.typed_search_attributes.get(
            __import__("core.domain.temporal_names", fromlist=["x"]).SA_WORKER_NAME
        )
        == "execution"
    )


async def test_reroute_moves_a_pending_step(stack: Stack, client: Client) -> None:
    """The second step targets a queue nobody polls; rerouting it while step 1 runs fixes it."""
    spec = stack.operator.planner.plan(
        goal="two steps",
        steps=[("execution", {"command": "sleep 1"}), ("execution", {"command": "echo second"})],
        chat_id=3005,
        report=False,
    )
    ghost = spec.steps[1].model_copy(update={"task_queue": "nobody-polls-this"})
    spec = spec.model_copy(update={"steps": [spec.steps[0], ghost]})
    handle = await stack.operator.jobs.start(spec)
    await wait_status(client, spec.job_id, JobState.running, step_index=0)
    await stack.operator.jobs.reroute(spec.job_id, "execution", user_id=1)
    result = await asyncio.wait_for(handle.result(), 20)
    assert result.outputs[1].output.strip() == "second"


async def test_cancel_stops_the_process_within_seconds(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 3006
    spec = stack.operator.planner.exec_job("sh -c 'echo sleeping; sleep 120'", chat_id=chat)
    handle = await stack.operator.jobs.start(spec)
    pid = None
    for _ in range(100):
        desc = await handle.describe()
        for pending in desc.raw_description.pending_activities:
            # Only the command's heartbeats carry its pid (a notification's carry a count).
            if pending.activity_type.name == "execution.run" and pending.heartbeat_details.payloads:
                details = await client.data_converter.decode(pending.heartbeat_details.payloads)
                if isinstance(details[0], dict):  # the execution step's (notify's is a count)
                    pid = details[0]["pid"]
        if pid:
            break
        await asyncio.sleep(0.1)
    assert pid, "the execution step never reported its pid"
    started = time.monotonic()
    await stack.operator.jobs.cancel(spec.job_id)
    while time.monotonic() - started < 10:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    gone_after = time.monotonic() - started
    assert gone_after < 5, f"process still alive {gone_after:.1f}s after cancel"
    # Bounded waits: a cancel that never lands fails here, not at the suite's 120 s timeout.
    await wait_status(client, spec.job_id, JobState.cancelled, timeout=20)
    with contextlib.suppress(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), timeout=20)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    await botapi.wait_for_shown(lambda m: m.chat_id == chat and "cancelled" in m.plain_text)
    print(f"cancel-to-process-gone: {gone_after:.2f}s")


async def test_needs_attention_gives_up_after_the_deadline(stack: Stack, client: Client) -> None:
    spec = fast_retries(stack.operator.planner.exec_job("false", chat_id=3007), max_attempts=1)
    spec = spec.model_copy(update={"needs_attention_timeout_seconds": 1})
    handle = await stack.operator.jobs.start(spec)
    result = await asyncio.wait_for(handle.result(), timedelta(seconds=20).total_seconds())
    assert result.state is JobState.failed and "no decision within" in result.last_error
