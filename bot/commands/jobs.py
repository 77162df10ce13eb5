"""Intake and status of one-off jobs: /exec, /research, /jobs, /job."""

from __future__ import annotations

import logging

from bot import views
from bot.command_registry import button, command
from bot.job_story import job_reply
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.ids import normalize_job_id
from core.domain.jobs.queries import chat_jobs_query
from core.io.jobs.client import JobSpecUnreadable

log = logging.getLogger(__name__)


@command("exec", "/exec <command>", "run a command in a fresh job workspace", "/exec df -h")
async def exec_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    spec = op.planner.exec_job(args, job_id=op.job_id_for(msg), **op.origin(msg))
    return await op.start_job(
        spec, "/exec runs a command on the execution worker", files=msg.attachments
    )


@command(
    "research",
    "/research <goal>",
    "gather notes from the files and URLs the goal names",
    "/research summarize https://example.com",
)
async def research_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    spec = op.planner.research_job(args, job_id=op.job_id_for(msg), **op.origin(msg))
    return await op.start_job(
        spec, "/research gathers notes on the research worker", files=msg.attachments
    )


@command(
    "dispatch",
    "/dispatch <worker> <input>",
    "send work to any registered worker (see /workers)",
    "/dispatch execution uptime",
)
async def dispatch_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    worker, _, text = args.strip().partition(" ")
    if not worker:
        names = ", ".join(op.registry.names())
        return [Reply(text=f"usage: /dispatch <worker> <input>; workers: {names}")]
    spec = op.planner.dispatch_job(
        worker.lower(), text, job_id=op.job_id_for(msg), **op.origin(msg)
    )
    return await op.start_job(
        spec, f"you asked for the {spec.main_step.worker} worker by name", files=msg.attachments
    )


@command("jobs", "/jobs", "recent jobs in this chat", "/jobs")
async def jobs_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    query = chat_jobs_query(msg.chat_id)
    jobs = await op.jobs.list(query, limit=15)
    total = await op.jobs.count(query)
    return [Reply(text=views.job_list("Recent jobs", jobs, total))]


@command("job", "/job <id>", "one job's state and its story", "/job job-abc123")
async def job_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    if not args:
        return [Reply(text="usage: /job <id>, for example /job job-abc123")]
    job_id = normalize_job_id(args.split()[0])
    status, desc = await op.jobs.status(job_id, await op.chat_job(msg, job_id))
    try:
        spec = await op.jobs.spec_of(job_id)
    except JobSpecUnreadable:  # a job this version cannot read: its status is still worth showing
        log.warning(
            "job %s: its spec could not be read", job_id, exc_info=True, extra={"job_id": job_id}
        )
        spec = None
    return [await job_reply(op, status, desc, spec)]


@button("job")
async def job_button(op: ChatServices, msg: Incoming, job_id: str) -> list[Reply]:
    return await job_command(op, msg, job_id)
