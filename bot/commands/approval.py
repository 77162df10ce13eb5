"""The approval gate, from the chat: /approve, /deny and the Approve / Deny buttons under an
approval request.

Only an allowed person gets here (the operator's gate), and only for a job of this chat
(`checked_job`); the job's own validated Update refuses a second decision with its reason.
A recurring job an LLM wrote (`jobsched-…`) is approved once, before its first run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.commands import button, command
from bot.planner import PlanError
from bot.schedules import ScheduleError
from bot.types import Incoming, Reply
from core.ids import normalize_job_id
from core.jobs import ApprovalDecision
from core.render import esc

if TYPE_CHECKING:
    from bot.operator import Operator


@command(
    "approve",
    "/approve <id>",
    "run a job whose command a language model wrote (after reading it)",
    "/approve job-abc123",
)
async def approve_command(op: Operator, msg: Incoming, args: str) -> list[Reply]:
    return await _decide(op, msg, args, approve=True)


@command(
    "deny",
    "/deny <id>",
    "refuse a job a language model proposed; nothing runs",
    "/deny job-abc123",
)
async def deny_command(op: Operator, msg: Incoming, args: str) -> list[Reply]:
    return await _decide(op, msg, args, approve=False)


@button("approve")
async def approve_button(op: Operator, msg: Incoming, job_id: str) -> list[Reply]:
    return await _decide(op, msg, job_id, approve=True)


@button("deny")
async def deny_button(op: Operator, msg: Incoming, job_id: str) -> list[Reply]:
    return await _decide(op, msg, job_id, approve=False)


async def _decide(op: Operator, msg: Incoming, args: str, *, approve: bool) -> list[Reply]:
    usage = "/approve <id>" if approve else "/deny <id>"
    target = args.split()[0].strip() if args.strip() else ""
    if not target:
        raise PlanError(f"usage: {usage}, with the id from the approval request")
    if target.lower().startswith("jobsched-"):
        return await _decide_schedule(op, msg, target.lower(), approve=approve)
    job_id = await op.checked_job(msg, normalize_job_id(target), usage)
    decision = ApprovalDecision(user_id=msg.user_id, chat_id=msg.chat_id, console=msg.trusted)
    result = await op.jobs.decide(job_id, approve, decision)
    icon = "✅" if approve else "🚫"
    return [Reply(text=f"{icon} <b>{esc(job_id)}</b>: {esc(result)}.", job_id=job_id)]


async def _decide_schedule(
    op: Operator, msg: Incoming, schedule_id: str, *, approve: bool
) -> list[Reply]:
    info = await op.schedules.describe(schedule_id)
    if not msg.trusted and info.chat_id != msg.chat_id:
        raise ScheduleError(f"no recurring job {schedule_id} in this chat")
    pending = await op.schedules.pending_template(schedule_id)
    if pending is None:
        raise ScheduleError(f"{schedule_id} is not waiting for approval; it was decided already")
    _spec, deadline = pending
    now = datetime.now(UTC)
    audit = op.deps.audit
    if now > deadline:
        await op.schedules.delete(schedule_id)
        await audit.record(
            "approval_timeout",
            user_id=None,
            chat_id=msg.chat_id,
            detail="no decision in time; deleted",
            job_id=schedule_id,
        )
        return [
            Reply(
                text=f"⏹ <b>{esc(schedule_id)}</b> waited too long for a decision; it was "
                "deleted without running. Ask again if it is still wanted."
            )
        ]
    when = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    if not approve:
        await op.schedules.delete(schedule_id)
        await audit.record(
            "denied",
            user_id=msg.user_id,
            chat_id=msg.chat_id,
            detail=f"denied by user {msg.user_id} at {when}",
            job_id=schedule_id,
        )
        return [Reply(text=f"🚫 <b>{esc(schedule_id)}</b>: denied and deleted; nothing ran.")]
    decided = f"approved by user {msg.user_id} at {when}"
    await op.schedules.approve_pending(schedule_id, decided)
    await audit.record(
        "approved", user_id=msg.user_id, chat_id=msg.chat_id, detail=decided, job_id=schedule_id
    )
    return [
        Reply(
            text=f"✅ <b>{esc(schedule_id)}</b>: {esc(decided)}; it runs on its schedule now. "
            f"Stop: /unschedule {esc(schedule_id)}"
        )
    ]
