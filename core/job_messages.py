"""What a job tells its chat, as pure functions (the workflow builds these deterministically)."""

from __future__ import annotations

from core.jobs import JobSpec, JobState, JobStatus, StepOutput
from core.messages import Button, ChatMessage
from core.render import STATE_ICONS, esc, tail_text, truncate_utf16

GOAL_CHARS = 300


def _header(spec: JobSpec, state: JobState) -> str:
    icon = STATE_ICONS.get(state.value, "")
    return f"{icon} <b>{esc(spec.job_id)}</b> · {esc(state.value.replace('_', ' '))}"


def job_buttons(job_id: str, state: JobState) -> list[Button]:
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


def job_card(spec: JobSpec, status: JobStatus) -> ChatMessage:
    workers = " → ".join(step.worker for step in spec.steps)
    lines = [
        _header(spec, status.state),
        f"<i>{esc(truncate_utf16(spec.goal, GOAL_CHARS))}</i>",
        f"worker: <b>{esc(spec.main_step.worker)}</b> (plan: {esc(workers)})",
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
