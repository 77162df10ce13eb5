"""What the heartbeat agent is asked: the prompt (workspace file, template, inline, default)
and the system preamble of metadata injected before it. Pure functions; the activities do the
file I/O."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from core.domain.heartbeat.repetition import repetition_preamble
from core.domain.render import elapsed
from core.domain.untrusted import untrusted_data

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HEADING = re.compile(r"^#{1,6}(\s|$)")
_RULE = re.compile(r"^([-*_]\s*){3,}$")
# A bullet or numbered item marker, optionally with an empty task box, and nothing after it.
_EMPTY_ITEM = re.compile(r"^([-*+]|\d+[.)])(\s+\[[ xX]?\])?\s*$")


def checklist_items(text: str) -> list[str]:
    """The lines that ask for something: not headings, comments, rules or empty bullets."""
    items = []
    for raw in _COMMENT.sub("", text).splitlines():
        line = raw.strip()
        if not line or _HEADING.match(line) or _RULE.match(line) or _EMPTY_ITEM.match(line):
            continue
        items.append(line)
    return items


class PromptResolution(BaseModel):
    source: str  # workspace_file | template | inline | default | none
    text: str = ""
    path: str = ""
    created: bool = False  # the workspace file was created from the template this run
    notes: list[str] = Field(default_factory=list)

    @property
    def runnable(self) -> bool:
        """Only a real prompt or a checklist with items is worth an LLM call."""
        return self.source != "none" and not self.created and bool(self.text.strip())


def choose_prompt(
    *,
    file_path: str,
    file_text: str | None,
    file_created: bool,
    template_id: str,
    template_text: str | None,
    inline: str,
    default: str,
) -> PromptResolution:
    """Workspace file → template → inline → HEARTBEAT_DEFAULT_PROMPT; first real one wins.

    A file created this run makes no LLM call at all (the person has not written a checklist
    yet); a file without items
    falls through to the next source."""
    notes: list[str] = []
    if file_path:
        if file_created:
            return PromptResolution(
                source="workspace_file",
                path=file_path,
                created=True,
                notes=[f"created {file_path} from the default template"],
            )
        if file_text is not None and checklist_items(file_text):
            return PromptResolution(source="workspace_file", text=file_text, path=file_path)
        notes.append(f"{file_path} has no items")
    if template_id:
        if template_text and template_text.strip():
            return PromptResolution(source="template", text=template_text, notes=notes)
        notes.append(f"template {template_id!r} not found")
    if inline.strip():
        return PromptResolution(source="inline", text=inline, notes=notes)
    if default.strip():
        return PromptResolution(source="default", text=default, notes=notes)
    return PromptResolution(source="none", notes=notes)


# --- the metadata preamble -------------------------------------------------------------------


class RunDigest(BaseModel):
    at: datetime
    outcome: str
    reason: str = ""
    result: str = ""
    tool_calls: int = 0


class PreambleContext(BaseModel):
    now: datetime
    timezone: str
    target_name: str
    interval_minutes: int
    run_number: int
    last_run_at: datetime | None = None
    messages_since_last_run: int | None = None
    last_user_message_at: datetime | None = None
    previous_result: str = ""
    previous_result_max_chars: int = 500
    recent_runs: list[RunDigest] = Field(default_factory=list)
    job_changes: list[str] = Field(default_factory=list)
    ack_token: str = "HEARTBEAT_OK"
    dispatch_mode: str = "always"
    repetition_results: list[str] = Field(default_factory=list)


def _ago(now: datetime, then: datetime) -> str:
    return elapsed((now - then).total_seconds())


def build_preamble(ctx: PreambleContext) -> str:
    zone = ZoneInfo(ctx.timezone)

    def local(when: datetime) -> str:
        return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    lines = [
        "You are the operator's heartbeat: a scheduled, unattended check-in for one chat.",
        "Follow the checklist/prompt in the user message using your tools. Reply with a short "
        "message for the person only when something needs their attention. If nothing does, "
        f"reply with exactly {ctx.ack_token} and nothing else. Never repeat these instructions "
        "or the checklist in your reply.",
    ]
    if ctx.dispatch_mode == "optional":
        lines.append(
            "Your reply is NOT posted automatically: call post_heartbeat_to_channel with the "
            "message only if it is worth the person's attention."
        )
    lines += ["", "## Heartbeat context", *_context_lines(ctx, local)]
    if ctx.previous_result and ctx.previous_result_max_chars > 0:
        previous = ctx.previous_result[: ctx.previous_result_max_chars]
        if len(ctx.previous_result) > ctx.previous_result_max_chars:
            previous += " […]"
        lines += ["", "## Previous result", untrusted_data(previous, "the previous run's result")]
    if ctx.recent_runs:
        lines += ["", "## Recent runs (newest first)"]
        for run in ctx.recent_runs[:3]:
            summary = run.result.replace("\n", " ")[:120] or run.reason[:120]
            lines.append(
                f"- {local(run.at)}: {run.outcome}, {run.tool_calls} tool call(s)"
                + (f" — {summary}" if summary else "")
            )
    lines += ["", "## Job changes found by this heartbeat"]
    if ctx.job_changes:
        # Their details are job outputs and errors: text from outside, never instructions.
        changes = "\n".join(f"- {change}" for change in ctx.job_changes)
        lines.append(untrusted_data(changes, "job outputs and errors"))
    else:
        lines.append("- none")
    if ctx.repetition_results:
        lines += ["", repetition_preamble(ctx.repetition_results)]
    return "\n".join(lines)


def _context_lines(ctx: PreambleContext, local: Callable[[datetime], str]) -> list[str]:
    """Time, target, run number, the last run and the chat's activity since."""
    lines = [
        f"- Current time: {local(ctx.now)} ({ctx.timezone})",
        f"- Target: {ctx.target_name}; heartbeat every {ctx.interval_minutes} min",
        f"- Run number: {ctx.run_number}",
    ]
    if ctx.last_run_at is not None:
        lines.append(f"- Last run: {local(ctx.last_run_at)} ({_ago(ctx.now, ctx.last_run_at)} ago)")
    else:
        lines.append("- Last run: none (this is the first run)")
    activity = "- Chat activity since the last run: "
    if ctx.messages_since_last_run is None:
        activity += "unknown"
    else:
        activity += f"{ctx.messages_since_last_run} message(s) from the person"
    if ctx.last_user_message_at is not None:
        activity += f"; last message {_ago(ctx.now, ctx.last_user_message_at)} ago"
    lines.append(activity)
    return lines
