"""Helpers for job tests: build specs through the real planner, wait on real state."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client

from bot.operator import Operator
from core.jobs.models import JobSpec, JobState, JobStatus, NotifyPolicy, RetrySpec


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


async def wait_count(client: Client, query: str, want: int, timeout: float = 20.0) -> int:
    """Poll a visibility count until it reaches `want` (or the deadline: the last count)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = -1
    while loop.time() < deadline:
        count = (await client.count_workflows(query)).count
        if count >= want:
            return count
        await asyncio.sleep(0.1)
    return count


async def assert_no_job_started(client: Client, operator: Operator, chat_id: int) -> None:
    """No job reports to `chat_id`. Visibility lags, so a count taken right after a refused
    action passes even when the action did start a job: start a silent marker job for the chat
    afterwards, wait until visibility lists it, and only then look for any other job."""
    marker = operator.planner.exec_job(
        "true", chat_id=chat_id, report=False, notify=NotifyPolicy.silent
    )
    await operator.jobs.start(marker)
    seen = await wait_count(client, f"WorkflowId = '{marker.job_id}'", 1)
    assert seen == 1, f"the marker job {marker.job_id} never became visible"
    others = await client.count_workflows(
        f"ReportChatId = {chat_id} AND WorkflowId != '{marker.job_id}'"
    )
    assert others.count == 0, f"{others.count} job(s) started for chat {chat_id}"
