"""Workflow code runs in Temporal's sandbox, which refuses non-deterministic calls.

Passing *all* modules through the sandbox (`with_passthrough_all_modules`) makes workers ~20%
faster here but lets this very call through, so the workers keep the default runner. The test
takes the operator queue's worker as `hbo.workers.build_workers` makes it for the product and
only points a copy of it at a queue of its own with a rule-breaking workflow."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.telegram.console import ConsoleSender
from core.domain.temporal_names import OPERATOR_QUEUE
from core.io.devserver import DevServer
from hbo.runtime import Runtime
from hbo.workers import build_workers
from tests.plugins.wall_clock_workflow import WallClockWorkflow
from tests.support.namespaces import new_namespace
from tests.support.stack import Stack


def product_worker_for(runtime: Runtime, tmp_path: Path, workflow: type) -> Worker:
    """The product's operator worker, as configured by build_workers, running `workflow` on a
    queue of its own (nothing else of the product's is registered, so nothing else runs)."""
    workers = build_workers(runtime, [OPERATOR_QUEUE], ConsoleSender(pictures=tmp_path))
    (operator,) = [w for w in workers if w.task_queue == OPERATOR_QUEUE]
    config = operator.config()
    config.update(task_queue=f"sandbox-{uuid.uuid4().hex[:6]}", workflows=[workflow], activities=[])
    return Worker(**config)


async def first_task_failure(
    handle: WorkflowHandle[object, object], timeout: float = 20
) -> Failure:
    """The first failed workflow task's failure in the history (the sandbox's refusal)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return event.workflow_task_failed_event_attributes.failure
            assert event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, (
                "the workflow read the wall clock and completed"
            )
        await asyncio.sleep(0.1)
    raise AssertionError(f"no workflow task failed within {timeout:g}s")


async def test_wall_clock_in_a_workflow_is_refused(
    stack: Stack, dev_server: DevServer, client: Client, tmp_path: Path
) -> None:
    # A namespace of its own: the session stack's workers already hold the operator queue,
    # and a client registers each worker it builds by namespace and task queue.
    own = await new_namespace(dev_server.target, client, "sandbox")
    worker = product_worker_for(replace(stack.runtime, client=own), tmp_path, WallClockWorkflow)
    async with worker:
        handle = await own.start_workflow(
            WallClockWorkflow.run,
            id=f"wall-clock-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:
            failure = await first_task_failure(handle)
        finally:
            await handle.terminate("test over")
    # The workflow task fails (and would be retried), the workflow itself does not go on.
    assert failure.application_failure_info.type == "RestrictedWorkflowAccessError", failure
    assert failure.message.startswith("Cannot access datetime.datetime.now"), failure.message
