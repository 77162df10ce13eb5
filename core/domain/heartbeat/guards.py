"""The heartbeat's guards (should a run go ahead now?), as pure functions of `now` (injected clock).

- Busy: a person who wrote within `cooldown_minutes` is mid-conversation; idle for exactly the
  cooldown is no longer busy. An intake question still waiting for its answer counts too.
- Target validation: a getChat answer (reachable or not) is trusted for 3600 s; at exactly
  3600 s it is checked again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

VALIDATION_TTL = timedelta(seconds=3600)
INTAKE_PENDING = timedelta(minutes=30)  # an unanswered intake question keeps a chat busy this long


def busy_reason(
    now: datetime,
    last_activity_at: datetime | None,
    cooldown_minutes: int,
    pending_question_at: datetime | None = None,
) -> str:
    """Why the chat is busy now, or "" when the heartbeat may speak."""
    if cooldown_minutes > 0 and last_activity_at is not None:
        idle = now - last_activity_at
        if idle < timedelta(minutes=cooldown_minutes):
            seconds = max(int(idle.total_seconds()), 0)
            return (
                f"busy: the person wrote {seconds // 60} min {seconds % 60} s ago "
                f"(cooldown {cooldown_minutes} min)"
            )
    if pending_question_at is not None and now - pending_question_at < INTAKE_PENDING:
        return "busy: an intake question is waiting for the person's answer"
    return ""


ValidationState = Literal["reachable", "unreachable", "expired"]


def validation_state(
    now: datetime, validated_at: datetime | None, chat_valid: bool | None
) -> ValidationState:
    if validated_at is None or chat_valid is None or now - validated_at >= VALIDATION_TTL:
        return "expired"
    return "reachable" if chat_valid else "unreachable"


def pending_intake_question(role: str | None, content: str, at: datetime | None) -> datetime | None:
    """The time of the chat's last turn if it is the operator asking the person something."""
    if role == "assistant" and at is not None and content.rstrip().endswith("?"):
        return at
    return None
