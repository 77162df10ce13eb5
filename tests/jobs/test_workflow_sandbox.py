"""Workflow code runs in Temporal's sandbox, which refuses non-deterministic calls.

Passing *all* modules through the sandbox (`with_passthrough_all_modules`) makes workers ~20%
faster here but lets this very call through, so the workers keep the default runner."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

from tests.plugins.wall_clock_workflow import WallClockWorkflow


async def test_wall_clock_in_a_workflow_is_refused(client: Client) -> None:
    queue = f"sandbox-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[WallClockWorkflow],
        workflow_failure_exception_types=[RestrictedWorkflowAccessError],
    ):
        with pytest.raises(WorkflowFailureError) as err:
            await client.execute_workflow(
                WallClockWorkflow.run,
                id=f"wall-clock-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
                execution_timeout=timedelta(seconds=20),
            )
    assert "datetime.now" in str(err.value.cause) or "restricted" in str(err.value.cause).lower()
