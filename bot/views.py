"""How the operator shows jobs and workers to a person (Telegram HTML)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.types import Reply
from core.domain.jobs.cards import card_text
from core.domain.jobs.messages import DOCUMENT_NAME, approval_request, job_buttons
from core.domain.jobs.models import JobSpec, JobState, JobStatus
from core.domain.registry import WorkerDefinition
from core.domain.render import STATE_ICONS, elapsed, esc, truncate_utf16, visible
from core.io.jobs.client import JobSummary
from core.io.tables import AuditEntry


def unknown_command(name: str, suggestion: str | None, example: str = "") -> str:
    """One line for a mistyped command: the nearest real one, else where the list is."""
    if suggestion is None:
        return f"Unknown command /{esc(name)}. /help lists every command."
    return (
        f"Unknown command /{esc(name)} — did you mean /{esc(suggestion)}? "
        f"e.g. <code>{esc(example)}</code> · /help lists every command."
    )


def addressed_to_another_bot(other: str, mine: str | None) -> str:
    """A command in a private chat that names another bot after its `@`."""
    me = f" (I am @{esc(mine)})" if mine else ""
    return (
        f"That command is addressed to @{esc(other)}, not to me{me}, so nothing was done. "
        "Send it without the @name, or to that bot."
    )


def _ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "—"
    return f"{elapsed(((now or datetime.now(UTC)) - when).total_seconds())} ago"


def job_card_reply(spec: JobSpec, worker: WorkerDefinition, why: str) -> Reply:
    """The first reply to a new job; the workflow edits it in place later
    (core/domain/jobs/cards.py)."""
    status = JobStatus(
        job_id=spec.job_id, goal=spec.goal, state=JobState.running, step_count=len(spec.steps)
    )
    return Reply(
        text=card_text(spec, status, why, fresh=True),
        buttons=job_buttons(spec.job_id, JobState.running),
        job_id=spec.job_id,
    )


def approval_reply(spec: JobSpec) -> Reply:
    """The operator's answer to a request whose command an LLM wrote: what will run, and the
    Approve / Deny buttons (the job itself waits in awaiting_approval)."""
    text, document = approval_request(spec)
    return Reply(
        text=text,
        buttons=job_buttons(spec.job_id, JobState.awaiting_approval),
        job_id=spec.job_id,
        document_text=document,
        document_name=DOCUMENT_NAME,
    )


def job_list(title: str, jobs: list[JobSummary], total: int | None = None) -> str:
    if not jobs:
        return f"<b>{esc(title)}</b>\nNo jobs."
    lines = [
        f"<b>{esc(title)}</b>"
        + (f" (showing {len(jobs)} of {total})" if total and total > len(jobs) else "")
    ]
    for job in jobs:
        icon = STATE_ICONS.get(job.state, "•")
        lines.append(
            f"{icon} <code>{esc(job.job_id)}</code> {esc(job.state)} · {esc(job.worker)} · "
            f"{_ago(job.closed_at or job.started_at)}\n   {esc(truncate_utf16(job.goal, 80))}"
        )
    return "\n".join(lines)


def audit_line(entry: AuditEntry) -> str:
    who = f" · user {entry.user_id}" if entry.user_id is not None else ""
    when = entry.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    detail = f" — {esc(visible(truncate_utf16(entry.detail, 300)))}" if entry.detail else ""
    return f"• {when} {esc(entry.action)}{who}{detail}"


def workers_text(workers: list[tuple[WorkerDefinition, bool | None]]) -> str:
    lines = ["<b>Workers</b>"]
    for worker, online in workers:
        dot = "🟢" if online else ("🔴" if online is False else "⚪")
        caps = ", ".join(worker.capabilities)
        lines.append(
            f"{dot} <b>{esc(worker.name)}</b> (queue <code>{esc(worker.task_queue)}</code>) — "
            f"{esc(worker.description)}" + (f"\n   can: {esc(caps)}" if caps else "")
        )
    return "\n".join(lines)


def status_list(
    title: str,
    jobs: list[JobSummary],
    total: int,
    limit: int,
    live: dict[str, JobStatus] | None = None,
) -> str:
    """A status answer: the exact count, then at most `limit` jobs (newest first)."""
    live = live or {}
    if total == 0 and not jobs:
        return f"<b>{esc(title)}</b>: none."
    head = f"<b>{esc(title)}</b>: {total} job{'s' if total != 1 else ''}"
    if total > len(jobs):
        head += f" (showing the newest {len(jobs)}; the list stops at {limit})"
    lines = [head]
    for job in jobs:
        status = live.get(job.job_id)
        state = status.state.value if status else job.state
        icon = STATE_ICONS.get(state, "•")
        detail = f"{esc(state.replace('_', ' '))} · {esc(job.worker)}"
        if status and not status.state.is_final and status.step_count:
            step = min(status.step_index + 1, status.step_count)
            detail += f" · step {step}/{status.step_count} {esc(status.worker)}"
            if status.attempt > 1:
                detail += f" (attempt {status.attempt})"
        lines.append(
            f"{icon} <code>{esc(job.job_id)}</code> {detail} · "
            f"{_ago(job.closed_at or job.started_at)}\n   {esc(truncate_utf16(job.goal, 80))}"
        )
    return "\n".join(lines)
