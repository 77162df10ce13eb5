"""Helpers for job tests: build specs through the real planner, wait on real state."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client

from core.jobs import JobSpec, JobState, JobStatus, RetrySpec


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
