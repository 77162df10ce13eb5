"""Status from real state: /running, /failed, /done.

Answers come from Temporal visibility (`count_workflows` + one page of `list_workflows` over the
custom search attributes, scoped to the asking chat) and the running jobs' `status` query, never
from chat memory. With thousands of jobs the count stays exact and the list shows the newest
`LIST_LIMIT`, saying so.
"""

from __future__ import annotations

import asyncio
import logging

from bot import views
from bot.command_registry import command
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.errors import Refusal
from core.domain.jobs.models import JobStatus
from core.domain.jobs.queries import (
    Window,
    done_jobs_query,
    failed_jobs_query,
    parse_window,
    running_jobs_query,
    waiting_jobs_query,
)
from core.io.jobs.client import JobSummary, query_status

log = logging.getLogger(__name__)

LIST_LIMIT = 20
LIVE_LIMIT = 10  # running jobs whose live step is asked for (one query each)
LIVE_TIMEOUT_SECONDS = 2.0


def _window(op: ChatServices, args: str, example: str) -> Window:
    try:
        return parse_window(args, op.settings.timezone)
    except ValueError as exc:
        raise Refusal(f"{exc}. Example: {example}") from None


async def _listing(op: ChatServices, query: str) -> tuple[list[JobSummary], int]:
    jobs, total = await asyncio.gather(op.jobs.list(query, limit=LIST_LIMIT), op.jobs.count(query))
    return jobs, total


async def _live(op: ChatServices, jobs: list[JobSummary]) -> dict[str, JobStatus]:
    """Live step/attempt of the first few running jobs (the workflow's `status` query)."""

    async def one(job_id: str) -> tuple[str, JobStatus | None]:
        # Gone, an old or broken job, or a status this version cannot read: listed without.
        return job_id, await query_status(op.deps.client, job_id)

    try:
        async with asyncio.timeout(LIVE_TIMEOUT_SECONDS):
            results = await asyncio.gather(*(one(j.job_id) for j in jobs[:LIVE_LIMIT]))
    except TimeoutError:
        log.warning(
            "status queries took longer than %ss; listing without them", LIVE_TIMEOUT_SECONDS
        )
        return {}
    return {job_id: status for job_id, status in results if status is not None}


@command("running", "/running", "jobs of this chat that are running now", "/running")
async def running_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    (jobs, total), attention = await asyncio.gather(
        _listing(op, running_jobs_query(msg.chat_id)),
        op.jobs.count(waiting_jobs_query(msg.chat_id)),
    )
    live = await _live(op, jobs)
    title = "Running now"
    if attention:
        title += f" ({attention} waiting for a decision)"
    return [Reply(text=views.status_list(title, jobs, total, LIST_LIMIT, live))]


@command(
    "failed",
    "/failed [today|yesterday|week]",
    "jobs of this chat that failed (and those waiting for a decision)",
    "/failed yesterday",
)
async def failed_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    window = _window(op, args, "/failed yesterday")
    (jobs, total), (waiting, waiting_total) = await asyncio.gather(
        _listing(op, failed_jobs_query(msg.chat_id, window)),
        _listing(op, waiting_jobs_query(msg.chat_id)),
    )
    text = views.status_list(f"Failed {window.label}", jobs, total, LIST_LIMIT)
    if waiting_total:
        text += "\n\n" + views.status_list(
            "Waiting for a decision (retry / reroute / cancel)", waiting, waiting_total, LIST_LIMIT
        )
    return [Reply(text=text)]


@command(
    "done",
    "/done [today|yesterday|week]",
    "jobs of this chat that finished successfully",
    "/done week",
)
async def done_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    window = _window(op, args, "/done yesterday")
    jobs, total = await _listing(op, done_jobs_query(msg.chat_id, window))
    return [Reply(text=views.status_list(f"Finished {window.label}", jobs, total, LIST_LIMIT))]
