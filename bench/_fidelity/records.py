"""The records the fidelity judges read: what the emulator delivered, every send or edit call
with its outcome, and every kill the harness sent. Plain data, filled by the scenario."""

from __future__ import annotations

import re
from dataclasses import dataclass

HEARTBEAT_HEADER = "🫀 Heartbeat"
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})
NOT_MODIFIED = "message is not modified"
# The line a live job card carries while its step runs (core.domain.jobs.cards.live_card_text).
LIVE_CARD_MARK = "⏱ running for"
# A fidelity job's command ends with its task script, its kind and its number.
KIND_RE = re.compile(r"fidtask\.py\S* (\w+) (\d+)")
# Kinds whose step exits 0 on its first run: the job must end completed (a harness whose jobs
# all failed — a command the sandbox refused — would otherwise pass unnoticed).
MEANT_TO_SUCCEED = frozenset({"ok", "long", "live"})


def job_kind(goal: str) -> str:
    match = KIND_RE.search(goal)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Delivery:
    """One message (or document) the emulator recorded as delivered."""

    chat_id: int
    thread_id: int | None
    text: str  # as displayed (tags stripped, entities decoded); "" for a captionless document
    at: float
    hidden_status: int | None = None
    message_id: int = 0

    @property
    def place(self) -> tuple[int, int | None]:
        return self.chat_id, self.thread_id

    @property
    def from_heartbeat(self) -> bool:
        return self.text.startswith(HEARTBEAT_HEADER)


@dataclass(frozen=True)
class Kill:
    """A SIGKILL the harness sent: when (wall clock, just before the signal), which role and
    process, and the ledger claims that were live just before it (what a sender held)."""

    at: float
    role: str
    pid: int | None = None
    process: str = ""
    held: tuple[str, ...] = ()  # "job-x running" per live claim
    aimed: bool = False  # waited for a claimed, unconfirmed ledger row

    @property
    def kind(self) -> str:
        """The role's kind: "operator" for operator-1 and operator-2 (two processes, one queue)."""
        return role_kind(self.role)


def role_kind(role: str) -> str:
    head, _, number = role.rpartition("-")
    return head if head and number.isdigit() else role


@dataclass(frozen=True)
class SendAttempt:
    """One Bot API call that sends or edits a message, with its outcome: `status` as answered
    (with its error `description`); `applied` when the call took effect although the answer
    was an error (a hidden 5xx). `at` is when the emulator answered."""

    at: float
    chat_id: int | None
    method: str
    status: int
    applied: bool = False
    text: str = ""
    description: str = ""
    message_id: int | None = None  # the message an edit names

    @property
    def hid_delivery(self) -> bool:
        return self.applied and self.status >= 500

    @property
    def took_effect(self) -> bool:
        """Telegram counts it: a message or an edit that reached the chat."""
        return self.status == 200 or self.applied

    @property
    def is_edit(self) -> bool:
        return self.method in EDIT_METHODS

    @property
    def not_modified(self) -> bool:
        return self.is_edit and NOT_MODIFIED in self.description.lower()

    @property
    def live(self) -> bool:
        """A live card's refresh (the low-priority edit the chat's pacing may skip)."""
        return self.is_edit and LIVE_CARD_MARK in self.text
