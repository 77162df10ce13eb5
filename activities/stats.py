"""The `/stats` chart, drawn on the reporting worker: a chat's jobs per day by final state
(stacked bars) over the time from each job's start to its result being told (median per day).

Figures: Temporal visibility (the chat's closed `JobWorkflow`s in the window) joined with the
report ledger's `reported_at` — nothing is counted twice or kept anywhere else. The drawing
(`activities/stats_chart.py`) runs in a thread, so the worker's event loop keeps polling.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from temporalio import activity
from temporalio.client import Client
from temporalio.client import WorkflowExecutionStatus as ExecStatus

from activities import stats_chart
from core.domain.jobs.models import parse_ledger_status
from core.domain.jobs.queries import CLOSED_AS, chat_jobs_query, closed_since, job_state
from core.domain.stats import (
    FINAL_STATES,
    JobPoint,
    StatsChart,
    StatsRequest,
    caption,
    summarize,
    window_start,
)
from core.domain.temporal_names import SA_JOB_STATUS
from core.io.ledger import ReportLedgerStore

log = logging.getLogger(__name__)

PAGE_SIZE = 1000


def final_state(status: ExecStatus | None, job_status: str | None) -> str | None:
    """A closed job's final state (`core.domain.jobs.queries.job_state`); None while it runs."""
    if status not in CLOSED_AS:
        return None
    state = job_state(job_status, status)
    return state if state in FINAL_STATES else None


async def closed_jobs(client: Client, chat_id: int, since: datetime) -> list[JobPoint]:
    query = chat_jobs_query(chat_id, closed_since(since))
    points: list[JobPoint] = []
    async for wf in client.list_workflows(query, page_size=PAGE_SIZE):
        state = final_state(wf.status, wf.typed_search_attributes.get(SA_JOB_STATUS))
        if state is None or wf.close_time is None:
            continue
        points.append(JobPoint(wf.id, state, wf.start_time, wf.close_time))
    return points


def with_told_times(
    points: list[JobPoint], told: dict[str, tuple[str | None, datetime]]
) -> list[JobPoint]:
    """Each job's `told_at`, when the ledger's last told status is its final state."""
    out = []
    for point in points:
        status, at = told.get(point.job_id, (None, None))
        told_at = at if status and parse_ledger_status(status)[0] == point.state else None
        out.append(JobPoint(point.job_id, point.state, point.started, point.closed, told_at))
    return out


class StatsActivities:
    def __init__(self, client: Client, ledger: ReportLedgerStore) -> None:
        self.client = client
        self.ledger = ledger

    @activity.defn(name="reporting.render_stats")
    async def render_stats(self, request: StatsRequest) -> StatsChart:
        since = window_start(request)
        points, told = await asyncio.gather(
            closed_jobs(self.client, request.chat_id, since),
            self.ledger.told_since(request.chat_id, since),
        )
        summary = summarize(request, with_told_times(points, told))
        text = caption(summary)
        title = f"Jobs of this chat, last {request.days} days ({request.timezone})"
        png = await asyncio.to_thread(stats_chart.render_png, summary, title)
        log.info(
            "stats for chat %s: %d jobs over %d days, %d bytes",
            request.chat_id,
            summary.total,
            request.days,
            len(png),
        )
        return StatsChart(
            png=png,
            caption=text,
            jobs=summary.total,
            width=stats_chart.WIDTH,
            height=stats_chart.HEIGHT,
        )
