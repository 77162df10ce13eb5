"""The job card: the first reply to a new job, edited in place as the job moves on.

Pure functions of (spec, status): the bot renders the first version, the workflow renders every
later one (deterministically), and both come out in the same shape.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.domain.jobs.messages import command_lines, goal_line, job_buttons
from core.domain.jobs.models import JobSpec, JobState, JobStatus
from core.domain.messages import Button, CardEdit
from core.domain.render import STATE_ICONS, esc, tail_text, visible_literal

GOAL_CHARS = 300
ERROR_CHARS = 600


class CardRef(BaseModel):
    """Signal payload: the chat shows the card as `message_id` (None: a transport that cannot
    edit, such as the console); `why` is the dispatch reason printed on the card."""

    message_id: int | None = None
    why: str = Field(default="", max_length=300)


def card_text(spec: JobSpec, status: JobStatus, why: str = "", *, fresh: bool = False) -> str:
    if fresh:
        head = f"🆕 <b>{esc(spec.job_id)}</b> · started"
    else:
        icon = STATE_ICONS.get(status.state.value, "")
        head = f"{icon} <b>{esc(spec.job_id)}</b> · {esc(status.state.value.replace('_', ' '))}"
        if not status.state.is_final and status.step_count:
            step = min(status.step_index + 1, status.step_count)
            head += f" · step {step}/{status.step_count}: {esc(status.worker)}"
    plan = " → ".join(step.worker for step in spec.steps)
    lines = [
        head,
        goal_line(spec),
        f"worker: <b>{esc(spec.main_step.worker)}</b>" + (f" — {esc(why)}" if why else ""),
        f"plan: {esc(plan)}",
        *command_lines(spec),
    ]
    files = spec.main_step.params.get("files") if spec.steps else None
    if files:  # the files the person gave the job, put in its workspace before it started
        lines.append(
            "📎 files: " + ", ".join(f"<code>{esc(visible_literal(str(n)))}</code>" for n in files)
        )
    if spec.schedule_id:
        lines.append(f"schedule: {esc(spec.schedule_id)}")
    if status.attempt > 1 and not status.state.is_final:
        lines.append(f"attempt {status.attempt}")
    if status.last_error and status.state in (JobState.needs_attention, JobState.failed):
        lines.append(f"last error: <code>{esc(tail_text(status.last_error, ERROR_CHARS))}</code>")
    if status.state.is_final:
        lines.append(f"Details: /job {esc(spec.job_id)}")
    else:
        lines.append(f"I'll tell you when it finishes. Status: /job {esc(spec.job_id)}")
    return "\n".join(lines)


def card_buttons(spec: JobSpec, status: JobStatus) -> list[Button]:
    return job_buttons(spec.job_id, status.state)


def card_edit(spec: JobSpec, status: JobStatus, ref: CardRef) -> CardEdit | None:
    if ref.message_id is None:
        return None
    return CardEdit(
        job_id=spec.job_id,
        chat_id=spec.report_chat_id,
        message_id=ref.message_id,
        text=card_text(spec, status, ref.why),
        buttons=card_buttons(spec, status),
    )


# The last lines of output a live card shows (a phone screen, not a terminal).
LIVE_TAIL_LINES = 6
LIVE_TAIL_CHARS = 700


class LiveCard(BaseModel):
    """Activity input: keep a job's card live while its step `step_index` runs long — the card
    as the workflow rendered it (`text`, `buttons`), with the step's elapsed time and the last
    lines of its output added from the step's heartbeats."""

    job_id: str
    chat_id: int
    message_id: int
    step_index: int
    text: str
    buttons: list[Button] = Field(default_factory=list)


def live_card_text(text: str, elapsed_seconds: float, output_bytes: int | None, tail: str) -> str:
    """The card `text` with a progress line and the output's last lines put before its last line
    (the "Status: /job …" pointer stays at the bottom)."""
    head, _, last = text.rpartition("\n")
    progress = f"⏱ running for {elapsed_text(elapsed_seconds)}"
    if output_bytes:
        progress += f" · {size_text(output_bytes)} of output"
    lines = [head, progress] if head else [progress]
    shown = [line for line in tail.splitlines() if line.strip()][-LIVE_TAIL_LINES:]
    if shown:
        lines.append(f"<pre>{esc(tail_text(chr(10).join(shown), LIVE_TAIL_CHARS))}</pre>")
    lines.append(last)
    return "\n".join(lines)


def elapsed_text(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def size_text(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"
