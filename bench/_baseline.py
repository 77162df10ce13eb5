"""The benchmark's baseline: the smallest useful Temporal job, one no-op activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

BASELINE_QUEUE = "bench-baseline"


@activity.defn(name="bench.noop")
async def noop(value: str) -> str:
    return value


@workflow.defn(name="BenchBaseline")
class BaselineWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            "bench.noop", value, start_to_close_timeout=timedelta(seconds=30), result_type=str
        )
