"""What the heartbeat tells a chat, as pure functions (Telegram HTML). Every message is
addressed to the target's own chat and topic — the only place a heartbeat ever writes."""

from __future__ import annotations

from core.domain.heartbeat.models import JobChange
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.messages import job_buttons
from core.domain.jobs.models import JobState
from core.domain.messages import ChatMessage
from core.domain.render import STATE_ICONS, esc, truncate_utf16

HEADER = "🫀 <b>Heartbeat</b>"
RESULT_MAX_CHARS = 3500


def _message(target: HeartbeatTarget, text: str, **kw: object) -> ChatMessage:
    return ChatMessage(chat_id=target.chat_id, topic_id=target.topic_id, text=text, **kw)  # type: ignore[arg-type]


def _change_line(change: JobChange) -> str:
    job = f"<code>{esc(change.job_id)}</code>"
    goal = esc(truncate_utf16(change.goal, 120)) if change.goal else ""
    if change.kind == "stale":
        head = f"🐢 {job} seems stuck: {esc(change.detail)}"
        job_id = esc(change.job_id)
        tail = f"Is its worker running? /workers · /job {job_id} · /cancel {job_id}"
        return f"{head}\n   <i>{goal}</i>\n   {tail}"
    if change.kind == "stuck":
        head = f"⏳ {job} still needs a decision ({esc(change.detail)})"
        tail = (
            f"/retry {esc(change.job_id)} · /reroute {esc(change.job_id)} &lt;worker&gt; · "
            f"/cancel {esc(change.job_id)}"
        )
        return f"{head}\n   <i>{goal}</i>\n   {tail}"
    icon = STATE_ICONS.get(change.state, "•")
    lines = [f"{icon} {job} {esc(change.state.replace('_', ' '))}", f"   <i>{goal}</i>"]
    if change.detail:
        lines.append(f"   {esc(truncate_utf16(change.detail, 400))}")
    if change.state == JobState.needs_attention.value:
        lines.append(f"   /retry {esc(change.job_id)} · /cancel {esc(change.job_id)}")
    else:
        lines.append(f"   details: /job {esc(change.job_id)}")
    return "\n".join(lines)


def changes_digest(target: HeartbeatTarget, changes: list[JobChange]) -> ChatMessage:
    count = len(changes)
    title = f"{HEADER} · {count} job update" + ("s" if count != 1 else "")
    body = "\n".join(_change_line(c) for c in changes)
    buttons = []
    if count == 1 and changes[0].kind != "stale":
        try:
            buttons = job_buttons(changes[0].job_id, JobState(changes[0].state))
        except ValueError:
            buttons = []
    return _message(target, f"{title}\n{body}", buttons=buttons)


def result_message(target: HeartbeatTarget, text: str) -> ChatMessage:
    """The agent's result as plain text under the heartbeat header (escaped: the model's
    output is never interpreted as markup)."""
    return _message(target, f"{HEADER}\n{esc(truncate_utf16(text.strip(), RESULT_MAX_CHARS))}")


def no_llm_notice(target: HeartbeatTarget, source: str) -> ChatMessage:
    where = {"workspace_file": "checklist (HEARTBEAT.md)", "template": "prompt template"}.get(
        source, "prompt"
    )
    return _message(
        target,
        f"{HEADER}\nThis heartbeat has a {esc(where)}, but no LLM is configured "
        "(OPENAI_API_KEY), so it is not executed. I keep reporting job changes here. "
        "I won't repeat this notice.",
    )


def paused_notice(target: HeartbeatTarget, failures: int, last_error: str) -> ChatMessage:
    return _message(
        target,
        f"{HEADER} ⏸ paused after {failures} failed runs in a row.\n"
        f"Last error: <code>{esc(truncate_utf16(last_error, 300))}</code>\n"
        "Resume with /heartbeat on (or <code>temporal schedule toggle --unpause "
        f"-s {esc(target.schedule_id)} --reason fixed</code>).",
    )
