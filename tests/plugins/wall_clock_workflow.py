"""A workflow that breaks the rules (reads the wall clock): the sandbox must refuse it."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow


@workflow.defn(name="WallClockWorkflow")
class WallClockWorkflow:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()
