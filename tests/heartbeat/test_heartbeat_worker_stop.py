"""A worker stopped after a heartbeat's local activity was retried leaves without a panic from
the Temporal SDK's runtime. The stop runs in a process of its own: what matters is what that
process prints after its worker has stopped."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from core.io.devserver import DevServer

ROOT = Path(__file__).resolve().parents[2]

# Seconds the failed attempt's start-to-close timeout lasts in the child: short, so that a timer
# left over from it fires while the child still waits after its worker has stopped.
ATTEMPT_TIMEOUT = 2

# The real HeartbeatWorkflow (its local activities' retry options as they are) on a task queue of
# its own; `heartbeat.prepare` fails its first attempt and then says the target does not exist,
# which ends the run. The worker is stopped as `hbo` stops its workers, then the child waits past
# the attempt's timeout before it leaves.
CHILD = """
import asyncio, sys, uuid
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import workflows.heartbeat.workflow as heartbeat
from core.domain.heartbeat.models import HeartbeatPlan, HeartbeatRunSummary
from core.domain.heartbeat.target import HeartbeatTarget

target_address, queue, attempt_timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
# Unsandboxed, so that the workflow sees the shorter timeout.
heartbeat.LOCAL_TIMEOUT = timedelta(seconds=attempt_timeout)


@activity.defn(name="heartbeat.prepare")
async def prepare(target: HeartbeatTarget) -> HeartbeatPlan:
    if activity.info().attempt == 1:
        raise RuntimeError("the first attempt fails")
    return HeartbeatPlan(target=target, exists=False)


async def main() -> None:
    client = await Client.connect(target_address, data_converter=pydantic_data_converter)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[heartbeat.HeartbeatWorkflow],
        activities=[prepare],
        workflow_runner=UnsandboxedWorkflowRunner(),
        graceful_shutdown_timeout=timedelta(seconds=3),
    )
    running = asyncio.create_task(worker.run())
    summary = await client.execute_workflow(
        "HeartbeatWorkflow",
        HeartbeatTarget(chat_id=1),
        id=f"stop-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        result_type=HeartbeatRunSummary,
        execution_timeout=timedelta(seconds=30),
    )
    print(f"outcome: {summary.outcome}", flush=True)
    await worker.shutdown()
    await running
    await asyncio.sleep(attempt_timeout + 1.5)
    print("stopped", flush=True)


asyncio.run(main())
"""


async def test_a_stopped_worker_leaves_no_local_activity_timer_behind(
    dev_server: DevServer,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        dev_server.target,
        f"heartbeat-stop-{uuid.uuid4().hex[:8]}",
        str(ATTEMPT_TIMEOUT),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stdout, stderr = out.decode(), err.decode()
    assert "outcome: skipped" in stdout, stdout + stderr
    assert "the first attempt fails" in stderr  # the retry this is about did happen
    assert "panicked at" not in stderr, stderr
    assert proc.returncode == 0 and stdout.endswith("stopped\n"), stdout + stderr
