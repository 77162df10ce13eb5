"""Helpers for job tests: build specs through the real planner, wait on real state."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio.client import Client, WorkflowFailureError

from bot.operator import Operator
from core.domain.jobs.models import JobSpec, JobState, JobStatus, NotifyPolicy, RetrySpec
from tests.support.visibility import wait_visible


async def start_without_card(operator: Operator, spec: JobSpec, why: str = "test") -> None:
    """Start a job as a transport would whose card could not be posted: the operator's start,
    then "posted, no message ids" (the job then tells its result as a new message)."""
    for reply in await operator.start_job(spec, why):
        await operator.reply_posted(reply, [])


def fast_retries(spec: JobSpec, max_attempts: int = 2, step: int | None = None) -> JobSpec:
    """Short retry intervals so recovery tests take seconds."""
    retry = RetrySpec(
        max_attempts=max_attempts, initial_interval_seconds=0.2, max_interval_seconds=0.5
    )
    steps = [
        s.model_copy(update={"retry": retry}) if step is None or i == step else s
        for i, s in enumerate(spec.steps)
    ]
    return spec.model_copy(update={"steps": steps})


async def wait_status(
    client: Client, job_id: str, *states: JobState, timeout: float = 20.0, **fields: Any
) -> JobStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: JobStatus | None = None
    while loop.time() < deadline:
        try:
            last = await client.get_workflow_handle(job_id).query("status", result_type=JobStatus)
        except Exception:
            last = None
        if (
            last is not None
            and last.state in states
            and all(getattr(last, k) == v for k, v in fields.items())
        ):
            return last
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{job_id} did not reach {states} {fields}; last: {last}")


async def wait_closed(client: Client, job_id: str, timeout: float = 60.0) -> None:
    """Until the job's workflow has ended (any way). A job sends its messages from the
    workflow, which waits for each send before it ends: once it has ended, nothing more can
    come from it — the positive marker that no repeat is still on its way."""
    handle = client.get_workflow_handle(job_id)
    with contextlib.suppress(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), timeout)


async def assert_no_job_started(client: Client, operator: Operator, chat_id: int) -> None:
    """No job reports to `chat_id`. Visibility lags, so a count taken right after a refused
    action passes even when the action did start a job: start a silent marker job for the chat
    afterwards, wait until visibility lists it, and only then look for any other job."""
    marker = operator.planner.exec_job(
        "true", chat_id=chat_id, report=False, notify=NotifyPolicy.silent
    )
    await operator.jobs.start(marker)
    await wait_visible(client, f"WorkflowId = '{marker.job_id}'")
    others = await client.count_workflows(
        f"ReportChatId = {chat_id} AND WorkflowId != '{marker.job_id}'"
    )
    assert others.count == 0, f"{others.count} job(s) started for chat {chat_id}"
