"""A job started by another version (its input is not a JobSpec here): reading its spec is a
refusal that says so, not a ValidationError or KeyError; a job that does not exist is "no job"."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from core.domain.errors import Refusal
from core.domain.registry import WorkerRegistry
from core.io.jobs.client import JobClient, JobNotFoundError, JobSpecUnreadable


async def test_an_unreadable_spec_is_a_refusal_that_says_so(client: Client) -> None:
    job_id = f"job-old{uuid.uuid4().hex[:6]}"
    handle = await client.start_workflow(
        "JobWorkflow",
        {"job_id": job_id, "from": "an older version"},
        id=job_id,
        task_queue="nobody-polls-this",
    )
    try:
        jobs = JobClient(client, WorkerRegistry([]))
        with pytest.raises(JobSpecUnreadable, match="another version") as raised:
            await jobs.spec_of(job_id)
        assert isinstance(raised.value, Refusal)
        with pytest.raises(JobNotFoundError):
            await jobs.spec_of(f"job-none{uuid.uuid4().hex[:6]}")
    finally:
        await handle.terminate("test over")
