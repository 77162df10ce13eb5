"""`/job <id>` for a job of this chat: its state now, what it runs, and its timeline read from
Temporal's history (core/io/jobs/history.py), with a link to the Web UI when its address is
known."""

from __future__ import annotations

import logging

from temporalio.client import WorkflowExecutionDescription
from temporalio.service import RPCError

from bot.services import ChatServices
from bot.types import Reply
from bot.views import audit_line
from core.domain.jobs.messages import DOCUMENT_NAME, command_section, job_buttons
from core.domain.jobs.models import JobSpec, JobStatus
from core.domain.jobs.timeline import TIMELINE_MAX_CHARS, render_timeline
from core.domain.render import STATE_ICONS, esc, truncate_utf16, utf16_len, visible
from core.io.jobs.history import read_timeline

log = logging.getLogger(__name__)

# Telegram's limit is 4,096; the whole answer stays one message.
MESSAGE_MAX_CHARS = 3900


def state_lines(status: JobStatus, spec: JobSpec | None) -> tuple[list[str], str | None]:
    """Where the job is now and what it runs (the timeline says how it got there), and the
    whole command as a document when it is too long for the message."""
    icon = STATE_ICONS.get(status.state.value, "")
    lines = [
        f"{icon} <b>{esc(status.job_id)}</b> · {esc(status.state.value.replace('_', ' '))}",
        f"goal: <i>{esc(visible(truncate_utf16(status.goal, 200)))}</i>",
    ]
    if not status.state.is_final and status.step_count:
        step = min(status.step_index + 1, status.step_count)
        lines.append(f"step {step}/{status.step_count}: {esc(status.worker)} ({esc(status.phase)})")
        if status.progress:
            lines.append(f"<pre>{esc(truncate_utf16(status.progress, 300))}</pre>")
    document = None
    if spec is not None:
        commands, document = command_section(spec)
        lines += commands
        if spec.origin.is_llm:
            lines.append(f"written by: {esc(spec.origin.value)} · approval: {spec.approval.value}")
    return lines, document


async def job_reply(
    op: ChatServices, status: JobStatus, desc: WorkflowExecutionDescription, spec: JobSpec | None
) -> Reply:
    lines, document = state_lines(status, spec)
    if status.schedule_id:  # a recurring job's run: its approval was given to the schedule
        lines.append(f"schedule: {esc(status.schedule_id)}")
        lines += [audit_line(entry) for entry in await op.deps.audit.for_job(status.schedule_id)]
    budget = min(TIMELINE_MAX_CHARS, MESSAGE_MAX_CHARS - utf16_len("\n".join(lines)) - 1)
    try:
        timeline = await read_timeline(
            op.deps.client,
            status.job_id,
            ledger=op.deps.ledger,
            pending=desc.raw_description.pending_activities,
            ui_address=op.settings.temporal_ui_address,
        )
        lines.append(render_timeline(timeline, max(budget, 600)))
    except RPCError:
        log.warning(
            "job %s: its history could not be read",
            status.job_id,
            exc_info=True,
            extra={"job_id": status.job_id},
        )
        lines.append("<i>its timeline cannot be read from Temporal right now</i>")
    return Reply(
        text="\n".join(lines),
        buttons=job_buttons(status.job_id, status.state),
        job_id=status.job_id,
        document_text=document,
        document_name=DOCUMENT_NAME,
    )
