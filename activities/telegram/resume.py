"""Sending a message after the parts an earlier attempt delivered. A message can take several
Bot API calls (parts, then documents); when one fails, the retry — Temporal's for the notify
activities, the bot's own loop for its replies — starts after the last one delivered, so a
person never gets a part twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from temporalio import activity

from activities.telegram.parts import OnSent
from core.domain.messages import ChatMessage


class PartsSender(Protocol):
    """What resuming needs of a sender (every `Sender`, and a bare `TelegramDelivery`)."""

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]: ...


@dataclass
class DeliveredParts:
    """How far one message has got across attempts: how many of its calls were delivered, and
    the ids of the messages sent by the attempts that finished."""

    count: int = 0
    ids: list[int] = field(default_factory=list)
    on_change: OnSent | None = None  # told each new count (an activity heartbeats it)

    def sent(self, count: int) -> None:
        self.count = count
        if self.on_change is not None:
            self.on_change(count)


def after_first_call(delivered: DeliveredParts) -> DeliveredParts:
    """The calls of a message that follow one call counted in `delivered` before them (a job
    card's edit before its result's send): the message resumes after the calls delivered, and
    each new count is told to `delivered` one higher. A count kept by an earlier version that
    did not count the first call reads one lower (a part sent twice, never one lost)."""

    def sent(count: int) -> None:
        delivered.sent(count + 1)

    return DeliveredParts(count=max(0, delivered.count - 1), ids=delivered.ids, on_change=sent)


def delivered_in_activity() -> DeliveredParts:
    """The running activity's progress: the count an earlier attempt heartbeated, and each new
    count heartbeated, so the next attempt (after a crash too) resumes after it."""
    details = activity.info().heartbeat_details
    return DeliveredParts(count=int(details[0]) if details else 0, on_change=activity.heartbeat)


async def send_resuming(
    sender: PartsSender, message: ChatMessage, delivered: DeliveredParts
) -> list[int]:
    """Send what `delivered` has not had yet; returns the ids delivered through it so far."""
    delivered.ids += await sender.send(message, skip_chunks=delivered.count, on_sent=delivered.sent)
    return delivered.ids
