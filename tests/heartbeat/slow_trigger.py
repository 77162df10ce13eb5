"""A workflow-trigger heartbeat target that takes a while (tests of SKIP and session modes).
Its own module: the workflow sandbox re-imports the module a workflow is defined in."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.domain.heartbeat.models import HeartbeatTrigger


@workflow.defn(name="SlowTriggerWorkflow")
class SlowTriggerWorkflow:
    @workflow.run
    async def run(self, trigger: HeartbeatTrigger) -> dict[str, str]:
        await asyncio.sleep(2.5)
        return {"outcome": "silent", "reason": f"slow run {trigger.run_number}"}
