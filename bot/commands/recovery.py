"""Recovery: /cancel, /retry, /reroute, and the inline buttons under job cards."""

from __future__ import annotations

from collections.abc import Awaitable

from bot.command_registry import button, command
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.ids import normalize_job_id
from core.domain.jobs.planner import PlanError
from core.domain.render import esc
from core.io.jobs.client import JobActionError


@command("cancel", "/cancel <id>", "cancel a running job", "/cancel job-abc123")
async def cancel_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    job_id = await op.checked_job(msg, args, "/cancel <id>")
    await op.jobs.cancel(job_id)
    await op.deps.audit.record("cancel", user_id=msg.user_id, chat_id=msg.chat_id, detail=job_id)
    return [
        Reply(
            text=f"⏹ Cancelling <b>{esc(job_id)}</b>; I'll confirm when it has stopped.",
            job_id=job_id,
        )
    ]


@command(
    "retry",
    "/retry <id>",
    "retry the failed step of a job that needs attention",
    "/retry job-abc123",
)
async def retry_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    job_id = await op.checked_job(msg, args, "/retry <id>")
    result = await op.jobs.retry(job_id, msg.user_id)
    await op.deps.audit.record("retry", user_id=msg.user_id, chat_id=msg.chat_id, detail=job_id)
    return [Reply(text=f"🔁 <b>{esc(job_id)}</b>: {esc(result)}.", job_id=job_id)]


@command(
    "reroute",
    "/reroute <id> <worker>",
    "run the failed (or next) step on another worker",
    "/reroute job-abc123 execution",
)
async def reroute_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    parts = args.split()
    if not parts:
        raise PlanError("usage: /reroute <id> <worker>, for example /reroute job-abc123 execution")
    if len(parts) == 1:
        return [reroute_choices(op, normalize_job_id(parts[0]))]
    job_id = await op.checked_job(msg, parts[0], "/reroute <id> <worker>")
    result = await op.jobs.reroute(job_id, parts[1], msg.user_id)
    await op.deps.audit.record(
        "reroute", user_id=msg.user_id, chat_id=msg.chat_id, detail=f"{job_id} {parts[1]}"
    )
    return [Reply(text=f"↪️ <b>{esc(job_id)}</b>: {esc(result)}.", job_id=job_id)]


def reroute_choices(op: ChatServices, job_id: str) -> Reply:
    names = ", ".join(f"<code>/reroute {esc(job_id)} {esc(n)}</code>" for n in op.registry.names())
    return Reply(text=f"Which worker should take the step of <b>{esc(job_id)}</b>? {names}")


@button("cancel")
async def cancel_button(op: ChatServices, msg: Incoming, job_id: str) -> list[Reply]:
    return await _unless_moved_on(op, job_id, cancel_command(op, msg, job_id))


@button("retry")
async def retry_button(op: ChatServices, msg: Incoming, job_id: str) -> list[Reply]:
    return await _unless_moved_on(op, job_id, retry_command(op, msg, job_id))


@button("reroute")
async def reroute_button(op: ChatServices, msg: Incoming, job_id: str) -> list[Reply]:
    job_id = await op.checked_job(msg, job_id, "/reroute <id> <worker>")
    ended = await _ended(op, job_id)
    if ended is not None:
        return [ended]
    return [reroute_choices(op, job_id)]


async def _unless_moved_on(
    op: ChatServices, job_id: str, action: Awaitable[list[Reply]]
) -> list[Reply]:
    """A press on a button of a job that has ended: the toast says what happened to it and the
    old buttons go; any other refusal is told as it is."""
    try:
        return await action
    except JobActionError:
        ended = await _ended(op, normalize_job_id(job_id))
        if ended is None:
            raise
        return [ended]


async def _ended(op: ChatServices, job_id: str) -> Reply | None:
    try:
        status, _ = await op.jobs.status(job_id)
    except Exception:  # no such job, or Temporal unreachable: the refusal says enough
        return None
    if not status.state.is_final:
        return None
    told = f"{job_id} has already {status.state.value}"
    return Reply(
        text=f"ℹ️ <b>{esc(job_id)}</b> has already {esc(status.state.value)}.",
        toast=told,
        stale=True,
    )
