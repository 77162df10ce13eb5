"""A fourth worker, as a plugin would ship it: runs a read-only SQL query against
`data.db` in the job's workspace. Nothing in the operator names it."""

from __future__ import annotations

import asyncio
import sqlite3

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.domain.jobs.models import StepInput, StepOutput
from core.domain.registry import WorkerDefinition
from core.io.settings import Settings
from core.io.workspace import workspace_dir


class SqlActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="sql.query")
    async def query(self, step: StepInput) -> StepOutput:
        sql = str(step.params.get("query", "")).strip()
        if not sql.lower().startswith("select"):
            raise ApplicationError(
                "only SELECT queries are allowed", type="BadCommand", non_retryable=True
            )
        db = workspace_dir(self.settings.workspaces_dir, step.workspace) / "data.db"

        def run() -> list[tuple[object, ...]]:
            with sqlite3.connect(f"file:{db}?mode=rwc", uri=True) as conn:
                return conn.execute(sql).fetchall()

        rows = await asyncio.to_thread(run)
        text = "\n".join(" | ".join(str(v) for v in row) for row in rows)
        return StepOutput(worker=step.worker, summary=f"{len(rows)} row(s)", output=text)


WORKER = WorkerDefinition(
    name="sql",
    description="Runs read-only SQL against the workspace's data.db.",
    task_queue="sql",
    step_activity="sql.query",
    activities=lambda settings: [SqlActivities(settings).query],
    capabilities=("sql", "database"),
    input_param="query",
    keywords=("sql", "query", "select", "database"),
)
