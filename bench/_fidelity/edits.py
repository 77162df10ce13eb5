"""Card edits against Telegram's rules, from every send and edit call the emulator answered.

What counts (wall-clock seconds; a call *takes effect* when answered 200, or when a 5xx hid
its delivery):
- per chat: edit calls (`editMessageText`, `editMessageReplyMarkup`), those that took effect,
  live-card refreshes among them, and edits answered "message is not modified".
- *not modified*: an edit that would change nothing. It is *designed* only when the same edit
  of the same message took effect before and its sender could not know: that earlier call's
  answer was a 5xx that hid it, or a role that edits was killed between the two (its retry
  sends the same text again). Any other is a broken rule.
- *group minute*: for each group (negative chat id), the most messages and edits that took
  effect in any 60-second window, against Telegram's 20 a minute per group. Not a hard rule:
  the product's pacing counts a group's minute per process (the bot, the notify worker), a
  result is never held back for it, and under injected faults a retried call and a hidden
  delivery both land. The promise pacing makes is about the low-priority edit: a live card's
  refresh goes only while the group's minute has room. So the hard rule is that no live-card
  refresh was sent while the group's last 60 s already held 20 messages and edits; other edits
  sent into a full minute are reported.
- *results after an edit*: each job's first report of its final state, with its latency (the
  judge's: final state → message, retry_after waits left out), marked when an edit of another
  message in the same chat was answered in the second before it (an edit the chat's turn was
  spent on). The worst such latency is reported against the p50 of all results.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench._fidelity.records import Kill, SendAttempt

GROUP_PER_MINUTE = 20  # Telegram's limit for a group: messages a minute, edits included
WINDOW_SECONDS = 60.0
EDIT_BEFORE_RESULT_SECONDS = 1.0
# Roles whose processes edit messages: notify activities and live cards (operator), the bot's
# answers to button presses, the job summary edited into a result (reporting).
EDITORS = frozenset({"operator", "bot", "reporting"})
SLACK_SECONDS = 0.25


@dataclass(frozen=True)
class ResultPoint:
    """A job's first report of its final state, and its latency."""

    job_id: str
    chat_id: int
    message_id: int
    at: float
    ms: float


@dataclass
class ChatEdits:
    calls: int = 0  # edit calls answered, whatever the answer
    applied: int = 0  # of them, took effect
    live: int = 0  # live-card refreshes that took effect
    not_modified: int = 0


@dataclass
class GroupMinute:
    chat_id: int
    worst: int = 0  # messages and edits that took effect in the fullest 60 s window
    ends_at: float = 0.0  # the last call of that window


@dataclass
class EditVerdict:
    chats: dict[int, ChatEdits] = field(default_factory=dict)
    not_modified: int = 0
    not_modified_designed: int = 0
    groups: dict[int, GroupMinute] = field(default_factory=dict)
    live_over_budget: int = 0  # live refreshes sent into a full group minute (a broken rule)
    edits_over_budget: int = 0  # other edits sent into a full group minute (reported)
    results: int = 0
    results_after_edit: int = 0
    results_after_live_edit: int = 0
    worst_after_edit: ResultPoint | None = None
    p50_ms: float = 0.0
    not_modified_items: list[str] = field(default_factory=list)  # undesigned
    designed_items: list[str] = field(default_factory=list)
    over_budget_items: list[str] = field(default_factory=list)

    @property
    def edits(self) -> int:
        return sum(c.applied for c in self.chats.values())

    @property
    def live(self) -> int:
        return sum(c.live for c in self.chats.values())

    @property
    def undesigned_not_modified(self) -> int:
        return self.not_modified - self.not_modified_designed

    @property
    def worst_group(self) -> GroupMinute | None:
        return max(self.groups.values(), key=lambda g: g.worst, default=None)

    @property
    def worst_after_edit_ms(self) -> float:
        return self.worst_after_edit.ms if self.worst_after_edit else 0.0

    @property
    def ok(self) -> bool:
        """The hard rules: no edit that changed nothing without a cause on record, no live
        refresh sent into a full group minute."""
        return self.undesigned_not_modified == 0 and self.live_over_budget == 0

    def line(self) -> str:
        worst = self.worst_group
        return (
            f"edits: {self.edits} (live {self.live}), not-modified {self.not_modified} "
            f"(designed {self.not_modified_designed}), worst group minute "
            f"{worst.worst if worst else 0}/{GROUP_PER_MINUTE}, live edits over budget "
            f"{self.live_over_budget}, results after an edit {self.results_after_edit} "
            f"(worst {self.worst_after_edit_ms:.0f} ms; p50 of all {self.p50_ms:.0f} ms)"
        )


def judge_edits(
    attempts: Sequence[SendAttempt],
    results: Iterable[ResultPoint] = (),
    *,
    kills: Sequence[Kill] = (),
    limit: int = 30,
) -> EditVerdict:
    calls = sorted(attempts, key=lambda a: a.at)
    v = EditVerdict()

    def note(items: list[str], text: str) -> None:
        if len(items) < limit:
            items.append(text)

    # Per chat, and "not modified" by cause.
    earlier: dict[tuple[int | None, int | None, str, str], list[SendAttempt]] = defaultdict(list)
    landed_on: dict[tuple[int | None, int | None], list[SendAttempt]] = defaultdict(list)
    for call in calls:
        if not call.is_edit:
            continue
        chat = v.chats.setdefault(call.chat_id or 0, ChatEdits())
        chat.calls += 1
        chat.applied += int(call.took_effect)
        chat.live += int(call.took_effect and call.live)
        key = (call.chat_id, call.message_id, call.method, call.text)
        if call.not_modified:
            chat.not_modified += 1
            v.not_modified += 1
            cause = _cause(earlier[key], call, kills) or _stale_press(
                landed_on[(call.chat_id, call.message_id)], call, kills
            )
            what = f"chat {call.chat_id} message {call.message_id} at {_clock(call.at)}"
            if cause is None:
                landed = next((e for e in reversed(earlier[key]) if e.took_effect), None)
                why = (
                    f"no hidden 5xx or kill of an editor since the same edit took effect at "
                    f"{_clock(landed.at)}"
                    if landed is not None
                    else "no identical edit of it had taken effect before"
                )
                note(v.not_modified_items, f"{what}: {why}")
            else:
                v.not_modified_designed += 1
                note(v.designed_items, f"{what}: {cause}")
        earlier[key].append(call)
        if call.took_effect:
            landed_on[(call.chat_id, call.message_id)].append(call)

    # Each group's fullest minute; edits sent into a full one.
    landed: dict[int, list[float]] = defaultdict(list)
    for call in calls:
        if call.chat_id is not None and call.chat_id < 0 and call.took_effect:
            landed[call.chat_id].append(call.at)
    for chat_id, times in landed.items():
        group = v.groups[chat_id] = GroupMinute(chat_id)
        for i, at in enumerate(times):
            count = i + 1 - bisect.bisect_right(times, at - WINDOW_SECONDS)
            if count > group.worst:
                group.worst, group.ends_at = count, at
    for call in calls:
        if not call.is_edit or call.chat_id is None or call.chat_id not in landed:
            continue
        times = landed[call.chat_id]
        before = bisect.bisect_left(times, call.at) - bisect.bisect_right(
            times, call.at - WINDOW_SECONDS
        )
        if before < GROUP_PER_MINUTE:
            continue
        if call.live:
            v.live_over_budget += 1
            note(
                v.over_budget_items,
                f"live refresh of message {call.message_id} in {call.chat_id} at "
                f"{_clock(call.at)} after {before} messages and edits in its last 60 s",
            )
        else:
            v.edits_over_budget += 1

    # Results and the edits just before them.
    edits_by_chat: dict[int, list[SendAttempt]] = defaultdict(list)
    for call in calls:
        if call.is_edit and call.chat_id is not None:
            edits_by_chat[call.chat_id].append(call)
    points = list(results)
    v.results = len(points)
    v.p50_ms = statistics.median(p.ms for p in points) if points else 0.0
    for point in points:
        edits = edits_by_chat.get(point.chat_id, [])
        times = [e.at for e in edits]
        lo = bisect.bisect_left(times, point.at - EDIT_BEFORE_RESULT_SECONDS)
        hi = bisect.bisect_right(times, point.at)
        before = [e for e in edits[lo:hi] if e.message_id != point.message_id]
        if not before:
            continue
        v.results_after_edit += 1
        v.results_after_live_edit += int(any(e.live for e in before))
        if v.worst_after_edit is None or point.ms > v.worst_after_edit.ms:
            v.worst_after_edit = point
    return v


# A restarted bot is polling again within a few seconds; a press it held is handled then.
PRESS_REDELIVERY_SECONDS = 15.0


def _cause(same: list[SendAttempt], repeat: SendAttempt, kills: Sequence[Kill]) -> str | None:
    """Why a sender made an edit that had already taken effect: it was told a 5xx, or it was
    killed before it heard the answer."""
    for first in reversed(same):
        if not first.took_effect:
            continue
        if first.hid_delivery:
            return f"{first.status} after the same edit took effect at {_clock(first.at)}"
        lo, hi = first.at - SLACK_SECONDS, repeat.at + SLACK_SECONDS
        kill = next((k for k in kills if lo <= k.at <= hi and k.kind in EDITORS), None)
        if kill is not None:
            return f"kill of {kill.role} (pid {kill.pid}) at {_clock(kill.at)} after the same edit"
        return None
    return None


def _stale_press(
    landed: list[SendAttempt], repeat: SendAttempt, kills: Sequence[Kill]
) -> str | None:
    """A bot killed while it held a press handles it again after its restart, and the press
    carries the message as it was when pressed (Telegram's update does not change): removing
    buttons another process's edit has removed since is answered "not modified". Designed when
    the removal follows a kill of the bot by at most PRESS_REDELIVERY_SECONDS and an edit of that
    message took effect before it."""
    if repeat.method != "editMessageReplyMarkup" or not landed:
        return None
    lo = repeat.at - PRESS_REDELIVERY_SECONDS
    kill = next((k for k in kills if lo <= k.at <= repeat.at and k.kind == "bot"), None)
    if kill is None:
        return None
    return (
        f"kill of bot (pid {kill.pid}) at {_clock(kill.at)}: a press it held, handled again "
        f"with the buttons it was pressed on, after an edit at {_clock(landed[-1].at)}"
    )


def _clock(at: float) -> str:
    when = datetime.fromtimestamp(at, UTC)
    return when.strftime("%H:%M:%S") + f".{when.microsecond // 1000:03d}"
