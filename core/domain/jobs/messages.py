"""What a job tells its chat, as pure functions (the workflow builds these deterministically)."""

from __future__ import annotations

import json

from core.domain.ids import workspace_name
from core.domain.jobs.approval import (
    approval_digest,
    approval_document,
    describe_origin,
    step_argv,
    step_command,
    step_urls,
)
from core.domain.jobs.models import JobSpec, JobState, JobStatus, StepOutput
from core.domain.messages import Button, CardEdit, ChatMessage, SummaryNote
from core.domain.registry import StepRole
from core.domain.render import (
    STATE_ICONS,
    TELEGRAM_MAX_CHARS,
    esc,
    html_to_plain,
    split_message,
    tail_text,
    truncate_utf16,
    utf16_len,
    visible,
    visible_list,
    visible_literal,
)

GOAL_CHARS = 300


def _header(spec: JobSpec, state: JobState) -> str:
    icon = STATE_ICONS.get(state.value, "")
    return f"{icon} <b>{esc(spec.job_id)}</b> · {esc(state.value.replace('_', ' '))}"


def job_buttons(job_id: str, state: JobState) -> list[Button]:
    if state is JobState.awaiting_approval:
        return [
            Button(label="Approve", data=f"approve:{job_id}"),
            Button(label="Deny", data=f"deny:{job_id}"),
        ]
    if state in (JobState.queued, JobState.running, JobState.retrying):
        return [Button(label="Cancel", data=f"cancel:{job_id}")]
    if state is JobState.needs_attention:
        return [
            Button(label="Retry", data=f"retry:{job_id}"),
            Button(label="Reroute", data=f"reroute:{job_id}"),
            Button(label="Cancel", data=f"cancel:{job_id}"),
        ]
    return []


def _message(spec: JobSpec, text: str, state: JobState) -> ChatMessage:
    return ChatMessage(
        chat_id=spec.report_chat_id,
        topic_id=spec.topic_id,
        text=text,
        buttons=job_buttons(spec.job_id, state),
    )


# The commands and URLs of a job take at most this much of a message (UTF-16 units, as Telegram
# counts); a longer shown form goes whole as an attached file, its SHA-256 in the message.
COMMAND_BUDGET = 2500
DOCUMENT_NAME = "command.txt"


def goal_line(spec: JobSpec, limit: int = GOAL_CHARS) -> str:
    """The goal on one labelled line, every hidden character and newline shown (so a goal
    cannot make lines that pass for the command)."""
    return f"goal: <i>{esc(visible(truncate_utf16(spec.goal, limit)))}</i>"


def _shown_lines(spec: JobSpec) -> list[str]:
    lines: list[str] = []
    for step in spec.steps:
        command = step_command(step)
        worker = esc(visible(step.worker))
        if command is not None:
            argv = step_argv(step)
            if step.params.get("shell"):
                shown = esc(visible_literal(command))
                lines.append(f"{worker} runs (shell): <code>/bin/sh -c {shown}</code>")
            elif argv is None:
                shown = esc(visible_literal(command))
                lines.append(f"{worker} command (does not parse, fails): <code>{shown}</code>")
            else:
                lines.append(f"{worker} runs argv: <code>{esc(visible_list(argv))}</code>")
        urls = step_urls(step, spec.goal)
        if urls:
            lines.append(f"{worker} fetches: <code>{esc(visible_list(urls))}</code>")
    return lines


def command_section(spec: JobSpec) -> tuple[list[str], str | None]:
    """Exactly what the job's steps will run or fetch: (lines for the message, the whole as a
    document when it does not fit in COMMAND_BUDGET, else None). Nothing is ever cut: what the
    message cannot hold goes whole into the document, its SHA-256 in the message."""
    lines = _shown_lines(spec)
    if not lines:
        return [], None
    if utf16_len(html_to_plain("\n".join(lines))) <= COMMAND_BUDGET:
        return lines, None
    document = approval_document(spec)
    size = utf16_len(document)
    return [
        f"what runs ({size:,} characters) is too long for a message: the whole of it is "
        f"attached as <code>{DOCUMENT_NAME}</code>, one argv item per line, escaped as here",
        f"sha256 of {DOCUMENT_NAME}: <code>{approval_digest(spec)}</code>",
    ], document


def command_lines(spec: JobSpec) -> list[str]:
    """The lines of `command_section` (a card or a list has no room for a document; the lines
    then say where the whole command is)."""
    return command_section(spec)[0]


def approval_request_message(spec: JobSpec) -> ChatMessage:
    """The one message that asks the chat to approve what an LLM proposed to run."""
    text, document = approval_request(spec)
    message = _message(spec, text, JobState.awaiting_approval)
    if document is not None:
        message.document_text, message.document_name = document, DOCUMENT_NAME
    return message


def approval_request_text(spec: JobSpec, *, recurring: str = "") -> str:
    return approval_request(spec, recurring=recurring)[0]


def approval_request(spec: JobSpec, *, recurring: str = "") -> tuple[str, str | None]:
    """(the request's text, the document to attach or None). The text shows every step's argv
    or URLs whole (or attaches them) and the SHA-256 that the job checks before it runs."""
    ident = esc(spec.schedule_id if recurring and spec.schedule_id else spec.job_id)
    head = f"{STATE_ICONS['awaiting_approval']} <b>{ident}</b> · waiting for approval"
    lines = [
        head,
        goal_line(spec),
        f"asked by: {esc(describe_origin(spec.origin, spec.requested_by))}",
        f"worker: <b>{esc(visible(spec.main_step.worker))}</b> · workspace: "
        + (
            "a fresh folder per run"
            if recurring
            else f"<code>{esc(workspace_name(spec.report_chat_id, spec.job_id))}</code>"
        ),
    ]
    commands, document = command_section(spec)
    if commands:
        lines += commands
        if document is None:
            lines.append(f"sha256: <code>{approval_digest(spec)}</code>")
    else:
        for step in spec.steps:
            if step.role is not StepRole.report:
                text = visible_literal(json.dumps(step.params, ensure_ascii=False))
                if utf16_len(text) > COMMAND_BUDGET:
                    document = approval_document(spec) or text
                    text = f"(too long for a message: attached as {DOCUMENT_NAME})"
                lines.append(f"{esc(visible(step.worker))} input: <code>{esc(text)}</code>")
    if recurring:
        lines.append(f"schedule: {esc(recurring)} — approved once, every run then runs.")
    lines.append(
        "Nothing runs until an allowed person in this chat approves. "
        f"Without a decision it is cancelled in {duration_text(spec.approval_timeout_seconds)}.\n"
        f"/approve {ident} · /deny {ident}"
    )
    return "\n".join(lines), document


def duration_text(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def approval_closed_message(spec: JobSpec, reason: str) -> ChatMessage:
    text = f"{_header(spec, JobState.cancelled)}\n{goal_line(spec)}\nNot run: {esc(reason)}."
    return _message(spec, text, JobState.cancelled)


def approval_audit_detail(spec: JobSpec) -> str:
    """What the audit log keeps about a gated job: origin, worker and the exact argv."""
    parts = [f"origin={spec.origin.value}", f"worker={spec.main_step.worker}"]
    if spec.origin.is_llm and approval_document(spec):
        parts.append(f"sha256={approval_digest(spec)}")  # first: a long detail is cut
    for step in spec.steps:
        argv = step_argv(step)
        if argv is not None:
            parts.append(f"argv={json.dumps(argv, ensure_ascii=False)}")
        elif step_command(step) is not None:
            parts.append(f"command={step_command(step)!r}")
        urls = step_urls(step, spec.goal)
        if urls:
            parts.append(f"urls={json.dumps(urls, ensure_ascii=False)}")
    return " ".join(parts)


def job_card(spec: JobSpec, status: JobStatus) -> ChatMessage:
    workers = " → ".join(step.worker for step in spec.steps)
    lines = [
        _header(spec, status.state),
        goal_line(spec),
        f"worker: <b>{esc(spec.main_step.worker)}</b> (plan: {esc(workers)})",
        *command_lines(spec),
    ]
    if spec.schedule_id:
        lines.append(f"schedule: {esc(spec.schedule_id)}")
    if status.progress:
        lines.append(f"progress: {esc(truncate_utf16(status.progress, 300))}")
    return _message(spec, "\n".join(lines), status.state)


def needs_attention_message(spec: JobSpec, status: JobStatus, wait_hours: float) -> ChatMessage:
    step_no = status.step_index + 1
    text = (
        f"{_header(spec, JobState.needs_attention)}\n"
        f"<i>{esc(truncate_utf16(spec.goal, GOAL_CHARS))}</i>\n"
        f"Step {step_no}/{status.step_count} ({esc(status.worker)}) failed after "
        f"{status.attempt} attempt(s):\n<pre>{esc(tail_text(status.last_error, 1500))}</pre>\n"
        f"Choose: /retry {esc(spec.job_id)} · /reroute {esc(spec.job_id)} &lt;worker&gt; · "
        f"/cancel {esc(spec.job_id)}. Finished steps are kept. "
        f"Without a decision it fails in {wait_hours:g} h."
    )
    return _message(spec, text, JobState.needs_attention)


def finished_message(
    spec: JobSpec, status: JobStatus, outputs: list[StepOutput], report_body: str | None
) -> ChatMessage:
    lines = [_header(spec, status.state), f"<i>{esc(truncate_utf16(spec.goal, GOAL_CHARS))}</i>"]
    warnings = [out for out in outputs if out.warning]
    if status.state is JobState.completed and warnings:
        # Completed, but not as asked: the first line already says so, the warning comes first.
        lines[0] = f"⚠️ <b>{esc(spec.job_id)}</b> · completed with a warning"
        for out in warnings:
            lines.append(f"⚠️ <b>{esc(out.worker)}</b>: {esc(truncate_utf16(out.warning, 600))}")
    if status.state is JobState.completed:
        if report_body:
            lines.append(report_body)
        else:
            for out in outputs:
                lines.append(f"<b>{esc(out.worker)}</b>: {esc(out.summary)}")
            last = next((o for o in reversed(outputs) if o.output.strip()), None)
            if last:
                lines.append(f"<pre>{esc(tail_text(last.output.rstrip(), 2500))}</pre>")
    elif status.state is JobState.cancelled:
        done = len(outputs)
        lines.append(f"Cancelled. {done} finished step(s) kept in the workspace.")
    else:
        lines.append(f"Failed: <pre>{esc(tail_text(status.last_error, 1500))}</pre>")
    message = _message(spec, "\n".join(lines), status.state)
    return message


SUMMARY_HEAD = "💬 <b>Summary</b>"


def summary_note(
    message: ChatMessage, job_id: str, summary: str, shown_as: list[int]
) -> SummaryNote:
    """How a model's summary (HTML, escaped) joins a result already told as `message`, whose
    messages are `shown_as` (their first holds its text): appended to that message by an edit
    when the result was one message and still fits with the summary, else a silent follow-up."""
    edited: str | None = None
    target = shown_as[0] if shown_as else None
    if target is not None and len(split_message(message.text)) == 1:
        combined = f"{message.text}\n\n{SUMMARY_HEAD}\n{summary}"
        if utf16_len(combined) <= TELEGRAM_MAX_CHARS:
            edited = combined
    return SummaryNote(
        job_id=job_id,
        chat_id=message.chat_id,
        topic_id=message.topic_id,
        message_id=target if edited is not None else None,
        edited_text=edited,
        buttons=message.buttons,
        follow_up=f"{SUMMARY_HEAD} of <b>{esc(job_id)}</b>\n{summary}",
    )


def approval_outcome_edit(spec: JobSpec, message_id: int, outcome: str) -> CardEdit:
    """The approval request, edited once it is decided or expired: what it asked, then
    `outcome` (who decided, when; or that it expired), and no buttons left to press."""
    text = approval_request(spec)[0]
    line = f"<b>{esc(outcome)}</b>"
    full = f"{text}\n{line}"
    if len(split_message(full)) > 1:  # a long request: its last part carries the buttons
        full = f"{STATE_ICONS['awaiting_approval']} <b>{esc(spec.job_id)}</b>\n{line}"
    return CardEdit(
        job_id=spec.job_id, chat_id=spec.report_chat_id, message_id=message_id, text=full
    )


def buttons_message_id(text: str, message_ids: list[int]) -> int | None:
    """Which of a sent message's ids carries its buttons: the last part of its text (parts of
    a long text come first, an attached document after)."""
    if not message_ids:
        return None
    return message_ids[min(len(split_message(text)), len(message_ids)) - 1]
