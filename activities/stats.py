"""The `/stats` chart, drawn on the reporting worker: a chat's jobs per day by final state
(stacked bars) over the time from each job's start to its result being told (median per day).

Figures: Temporal visibility (the chat's closed `JobWorkflow`s in the window) joined with the
report ledger's `reported_at` — nothing is counted twice or kept anywhere else. Drawing uses
matplotlib's object API on the Agg canvas (no pyplot state, no display), in a thread so the
worker's event loop keeps polling and heartbeating.
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import UTC, datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from temporalio import activity
from temporalio.client import Client
from temporalio.client import WorkflowExecutionStatus as ExecStatus

from core.jobs import parse_ledger_status
from core.stats import (
    FINAL_STATES,
    JobPoint,
    StatsChart,
    StatsRequest,
    Summary,
    caption,
    summarize,
    window_start,
)
from core.store import ReportLedgerStore
from core.temporal import SA_JOB_STATUS

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
WIDTH_INCHES, HEIGHT_INCHES, DPI = 8.0, 5.0, 100  # a 800 × 500 picture
COLORS = {"completed": "#2e7d32", "failed": "#c62828", "cancelled": "#9e9e9e"}


def final_state(status: ExecStatus | None, job_status: str | None) -> str | None:
    """A closed job's final state: what the job said of itself (a job that ended `failed`
    after no one retried it completes its workflow), else what Temporal says of the run."""
    if status == ExecStatus.COMPLETED:
        return job_status if job_status in FINAL_STATES else "completed"
    if status == ExecStatus.CANCELED:
        return "cancelled"
    if status in (ExecStatus.FAILED, ExecStatus.TERMINATED, ExecStatus.TIMED_OUT):
        return "failed"
    return None


async def closed_jobs(client: Client, chat_id: int, since: datetime) -> list[JobPoint]:
    query = (
        f"WorkflowType = 'JobWorkflow' AND ReportChatId = {chat_id} "
        f"AND CloseTime >= '{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    )
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


def render_png(summary: Summary, title: str) -> bytes:
    """Stacked bars per day by final state (left axis) and the day's median time to result
    (line, right axis)."""
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(summary.days)))
    bottom = [0] * len(positions)
    for state in FINAL_STATES:
        heights = [d.counts[state] for d in summary.days]
        axes.bar(positions, heights, bottom=bottom, color=COLORS[state], label=state, width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(positions) // 10)
    axes.set_xticks(positions[::step], [d.day.strftime("%b %d") for d in summary.days][::step])
    axes.set_ylabel("jobs (by final state)")
    axes.set_ylim(0, max([*bottom, 1]) * 1.1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=11)
    medians = [d.median_latency for d in summary.days]
    if any(m is not None for m in medians):
        right = axes.twinx()
        xs = [p for p, m in zip(positions, medians, strict=True) if m is not None]
        ys = [m for m in medians if m is not None]
        right.plot(xs, ys, color="#1565c0", marker="o", label="median time to result")
        right.set_ylabel("median seconds from start to result told")
        right.set_ylim(0, max(ys) * 1.3 or 1)
    figure.legend(loc="outside lower center", ncols=4, fontsize=9, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


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
        png = await asyncio.to_thread(render_png, summary, title)
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
            width=int(WIDTH_INCHES * DPI),
            height=int(HEIGHT_INCHES * DPI),
        )
