"""A job's story as a person reads it: the events of its Temporal history (read by
`core/io/jobs/history.py`) rendered as short Telegram HTML lines, times relative to the start.

Pure: no I/O. Temporal keeps one record per step run, not per attempt — the last attempt's
start (its number, its worker, the failure of the attempt before it) and its outcome — so a long
run of failed attempts is one line by nature ("attempts 1–8 failed: <the last error>").
"""

from __future__ import annotations

import html
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.domain.jobs.models import parse_ledger_status
from core.domain.render import STATE_ICONS, esc, truncate_utf16, utf16_len

# One message on a phone; the lines around the timeline (state, goal, command) fit beside it.
TIMELINE_MAX_CHARS = 3500
ERROR_MAX_CHARS = 160


class StepOutcome(StrEnum):
    completed = "completed"
    failed = "failed"
    timed_out = "timed_out"
    cancelled = "cancelled"
    running = "running"  # an attempt runs now
    waiting = "waiting"  # scheduled, no worker has taken this attempt yet


class Accepted(BaseModel):
    kind: Literal["accepted"] = "accepted"
    at: float = 0.0


class StateChanged(BaseModel):
    """The job's JobStatus search attribute changed (awaiting_approval, needs_attention, …)."""

    kind: Literal["state"] = "state"
    at: float
    state: str
    detail: str = ""


class Decided(BaseModel):
    """A person's Update (approve, deny, retry, reroute, update_metadata) or a cancel request."""

    kind: Literal["decided"] = "decided"
    at: float
    action: str
    user_id: int | None = None
    console: bool = False
    worker: str = ""  # reroute: the worker the step moves to


class StepRun(BaseModel):
    """One scheduling of a step's activity and its attempts (a retry decision schedules it
    again: another StepRun)."""

    kind: Literal["step"] = "step"
    at: float  # scheduled
    step_index: int
    worker: str
    attempt: int = 1  # the last attempt known
    identity: str = ""  # the worker process that ran the last attempt
    started_at: float | None = None
    ended_at: float | None = None
    outcome: StepOutcome = StepOutcome.waiting
    error: str = ""  # the last attempt's failure
    lost: bool = False  # …was a missed heartbeat: its worker was lost
    previous_error: str = ""  # the failure of the attempt before the last
    previous_lost: bool = False  # …was a missed heartbeat: its worker was lost
    lost_identity: str = ""  # that worker, when Temporal still says (a live job only)
    heartbeat_timeout: float | None = None
    waiting_since: float | None = None  # the last attempt waits for a worker since


class Delivery(BaseModel):
    """A chat message that needed retries or was not delivered (the others are not news)."""

    kind: Literal["delivery"] = "delivery"
    at: float
    attempts: int
    delivered: bool
    error: str = ""


class Told(BaseModel):
    """The report ledger: the last status told to the chat, and when."""

    kind: Literal["told"] = "told"
    at: float
    status: str


TimelineEvent = Annotated[
    Accepted | StateChanged | Decided | StepRun | Delivery | Told, Field(discriminator="kind")
]


class Timeline(BaseModel):
    job_id: str
    events: list[TimelineEvent] = Field(default_factory=list)
    ui_url: str | None = None  # the job in the Temporal Web UI, when its address is known


def since_start(seconds: float) -> str:
    """ "+0.0s", "+42.3s", "+1m 12s", "+2h 05m", "+3d 4h"."""
    s = max(seconds, 0.0)
    if s < 60:
        return f"+{s:.1f}s"
    whole = int(s)
    if whole < 3600:
        return f"+{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"+{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"+{whole // 86400}d {whole % 86400 // 3600}h"


def _span(seconds: float) -> str:
    return since_start(seconds)[1:]


def _error(text: str) -> str:
    return esc(truncate_utf16(" ".join(text.split()), ERROR_MAX_CHARS))


def _who(event: Decided) -> str:
    if event.console:
        return "in the console"
    return f"by user {event.user_id}" if event.user_id is not None else "by the operator"


_DECIDED = {
    "approve": "👍 approved",
    "deny": "👎 denied",
    "retry": "🔁 retry asked",
    "cancel": "⏹ cancel asked",
    "update_metadata": "metadata changed",
}

_STATE_WORDS = {
    "awaiting_approval": "waiting for approval",
    "needs_attention": "needs attention",
}


def _state_line(event: StateChanged) -> str:
    icon = STATE_ICONS.get(event.state, "•")
    word = _STATE_WORDS.get(event.state, event.state.replace("_", " "))
    detail = f": {_error(event.detail)}" if event.detail else ""
    return f"{icon} <b>{esc(word)}</b>{detail}"


def _worker(identity: str) -> str:
    return f"<code>{esc(truncate_utf16(identity, 60))}</code>"


def _lost(run: StepRun, identity: str) -> str:
    limit = f" for {_span(run.heartbeat_timeout)}" if run.heartbeat_timeout else ""
    who = f"worker {_worker(identity)}" if identity else "its worker"
    return f"{who} lost (no heartbeat{limit})"


def _step_lines(run: StepRun) -> list[tuple[float, str]]:
    """The step's earlier attempts in one line (at its scheduling), its last attempt in one."""
    head = f"step {run.step_index + 1} · {esc(run.worker)}"
    lines: list[tuple[float, str]] = []
    earlier = run.attempt - 1
    if earlier >= 1:
        which = "attempt 1" if earlier == 1 else f"attempts 1–{earlier}"
        if run.previous_lost:
            lost = _lost(run, run.lost_identity)
            said = lost if earlier == 1 else f"failed, the last: {lost}"
        else:
            error = _error(run.previous_error) if run.previous_error else "no reason given"
            said = f"failed: {error}" if earlier == 1 else f"failed, the last: {error}"
        lines.append((run.at, f"{head}: {which} → {said}"))
        head = f"step {run.step_index + 1}: attempt {run.attempt}"
    on = f" on {_worker(run.identity)}" if run.identity else ""
    took = (
        f" in {_span(run.ended_at - run.started_at)}"
        if run.ended_at is not None and run.started_at is not None
        else ""
    )
    match run.outcome:
        case StepOutcome.completed:
            said = f"✓ done{took}"
        case StepOutcome.failed:
            said = f"✗ failed{took}: {_error(run.error)}"
        case StepOutcome.timed_out:
            said = f"✗ {_lost(run, '')}" if run.lost else f"✗ {_error(run.error)}"
        case StepOutcome.cancelled:
            said = "cancelled"
        case StepOutcome.running:
            said = "running"
        case StepOutcome.waiting:
            said = "waiting for a worker"
    at = run.started_at if run.started_at is not None else run.at
    if run.outcome is StepOutcome.waiting:
        at = run.waiting_since if run.waiting_since is not None else run.at
    lines.append((at, f"{head}{on}: {said}"))
    return lines


def _lines(event: TimelineEvent) -> list[tuple[float, str]]:
    match event:
        case Accepted():
            return [(event.at, "accepted")]
        case StateChanged():
            return [(event.at, _state_line(event))]
        case Decided():
            if event.action == "reroute":
                return [(event.at, f"↪️ rerouted to {esc(event.worker)} {_who(event)}")]
            said = _DECIDED.get(event.action, esc(event.action))
            if event.action == "cancel" and event.user_id is None:
                return [(event.at, said)]  # Temporal's cancel request names no person
            return [(event.at, f"{said} {_who(event)}")]
        case StepRun():
            return _step_lines(event)
        case Delivery():
            if event.delivered:
                text = f"a message to the chat needed {event.attempts} attempts"
            else:
                text = f"⚠️ a message to the chat was not delivered ({event.attempts} attempts)"
            return [(event.at, text + (f": {_error(event.error)}" if event.error else ""))]
        case Told():
            state, _, _ = parse_ledger_status(event.status)
            if state == "running":  # the job card: not news
                return []
            if state in ("completed", "failed", "cancelled"):
                return [(event.at, f"📨 result told ({esc(state)})")]
            return [(event.at, f"📨 told the chat: {esc(state.replace('_', ' '))}")]
    return []  # pragma: no cover - the union is exhaustive


def render_timeline(timeline: Timeline, limit: int = TIMELINE_MAX_CHARS) -> str:
    """The story in at most `limit` UTF-16 units: one line per event, by time. When it would
    be longer, the first and the last events stay and the middle is one "… n more" line."""
    lines: list[tuple[float, str]] = []
    for event in timeline.events:
        lines += _lines(event)
    lines.sort(key=lambda line: line[0])  # stable: same-moment events keep history order
    rows = [f"<code>{since_start(at)}</code> {text}" for at, text in lines]
    link = (
        f'\n🔗 <a href="{html.escape(timeline.ui_url)}">{esc(timeline.ui_url)}</a>'
        if timeline.ui_url
        else ""
    )
    head = "<b>Timeline</b> (from the start)"
    budget = limit - utf16_len(head) - utf16_len(link) - 1
    return head + "\n" + _fit(rows, budget) + link


def _fit(rows: list[str], budget: int) -> str:
    text = "\n".join(rows)
    if utf16_len(text) <= budget:
        return text
    # Keep the start (how it began) and as much of the end (where it is now) as fits.
    head, tail = rows[:3], rows[3:]
    while tail:
        gap = f"… {len(rows) - len(head) - len(tail)} more events"
        text = "\n".join([*head, gap, *tail])
        if utf16_len(text) <= budget:
            return text
        tail = tail[1:]
    return f"… {len(rows)} events (see the Web UI)"
