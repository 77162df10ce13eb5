"""The approval gate, from the chat: /approve, /deny and the Approve / Deny buttons under an
approval request.

Only an allowed person gets here (the operator's gate), and only for a job of this chat
(`checked_job`); the job's own validated Update refuses a second decision with its reason.
A recurring job an LLM wrote (`jobsched-…`) is approved once, before its first run.
"""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus

from bot.command_registry import button, command
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.ids import normalize_job_id
from core.domain.jobs.approval import schedule_approval_id
from core.domain.jobs.models import ApprovalDecision
from core.domain.jobs.planner import PlanError
from core.domain.render import esc
from core.io.jobs.client import JobActionError, JobNotFoundError
from core.io.jobs.schedules import ScheduleError


@command(
    "approve",
    "/approve <id>",
    "run a job whose command a language model wrote (after reading it)",
    "/approve job-abc123",
)
async def approve_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    return await _decide(op, msg, args, approve=True)


@command(
    "deny",
    "/deny <id>",
    "refuse a job a language model proposed; nothing runs",
    "/deny job-abc123",
)
async def deny_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    return await _decide(op, msg, args, approve=False)


@button("approve")
async def approve_button(op: ChatServices, msg: Incoming, job_id: str) -> list[Reply]:
    return await _decide(op, msg, job_id, approve=True)


@button("deny")
async def deny_button(op: ChatServices, msg: Incoming, job_id: str) -> list[Reply]:
    return await _decide(op, msg, job_id, approve=False)


async def _decide(op: ChatServices, msg: Incoming, args: str, *, approve: bool) -> list[Reply]:
    usage = "/approve <id>" if approve else "/deny <id>"
    target = args.split()[0].strip() if args.strip() else ""
    if not target:
        raise PlanError(f"usage: {usage}, with the id from the approval request")
    if target.lower().startswith("jobsched-"):
        return await _decide_schedule(op, msg, target.lower(), approve=approve)
    job_id = await op.checked_job(msg, normalize_job_id(target), usage)
    # Who, from which chat, nothing more: the console decides as its own chat, like any other.
    decision = ApprovalDecision(user_id=msg.user_id, chat_id=msg.chat_id)
    try:
        result = await op.jobs.decide(job_id, approve, decision)
    except JobActionError:
        # A job that has already ended (a fast one, after its approval) is told how it was
        # decided, from its audit trail; the press changes nothing.
        decided = await _decided_before(op, job_id)
        if decided is None:
            raise
        told = f"{job_id} was already {decided}"
        return [
            Reply(
                text=f"ℹ️ <b>{esc(job_id)}</b> was already {esc(decided)}.",
                job_id=job_id,
                toast=told,
                stale=True,
            )
        ]
    icon = "✅" if approve else "🚫"
    return [Reply(text=f"{icon} <b>{esc(job_id)}</b>: {esc(result)}.", job_id=job_id)]


async def _decided_before(op: ChatServices, job_id: str) -> str | None:
    for entry in reversed(await op.deps.audit.for_job(job_id)):
        if entry.action in ("approved", "denied"):
            return f"{entry.action} by user {entry.user_id}"
        if entry.action == "approval_timeout":
            return "cancelled: no decision in time"
    return None


async def _decide_schedule(
    op: ChatServices, msg: Incoming, schedule_id: str, *, approve: bool
) -> list[Reply]:
    """A recurring job's pending approval is held by its own small workflow: the same validated
    Update decides it once; a later press is told how it was decided."""
    info = await op.schedules.describe(schedule_id)
    if not msg.trusted and info.chat_id != msg.chat_id:
        raise ScheduleError(f"no recurring job {schedule_id} in this chat")
    workflow_id = schedule_approval_id(schedule_id)
    try:
        desc = await op.jobs.describe(workflow_id)
    except JobNotFoundError:
        raise ScheduleError(f"{schedule_id} did not ask for approval") from None
    if desc.status != WorkflowExecutionStatus.RUNNING:
        outcome = await op.jobs.handle(workflow_id).result()
        raise ScheduleError(f"{schedule_id} is not waiting for approval: {outcome}")
    # Who, from which chat, nothing more: the console decides as its own chat, like any other.
    decision = ApprovalDecision(user_id=msg.user_id, chat_id=msg.chat_id)
    result = await op.jobs.decide(workflow_id, approve, decision)
    icon = "✅" if approve else "🚫"
    tail = f" Stop: /unschedule {esc(schedule_id)}" if approve else ""
    return [Reply(text=f"{icon} <b>{esc(schedule_id)}</b>: {esc(result)}.{tail}")]
