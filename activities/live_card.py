"""The live job card: while a step runs long, its card shows the elapsed time and the last lines
of output, edited in place at a pace the chat can afford.

The workflow starts `notify.live_card` once its step says it is running long and cancels it
when the step ends. The activity reads the step's own heartbeat details (what /job shows) from
the workflow's description, so the job's history gains no event per edit. An edit is low
priority: it is skipped, never queued, when the chat has something else to send or a group's
minute budget runs short, and never sent when it would change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.api.workflow.v1 import PendingActivityInfo

from activities.keepalive import keep_alive
from activities.telegram.errors import Final, TelegramFailure
from activities.telegram.pacing import GROUP_PER_MINUTE, GROUP_RESERVED
from activities.telegram.sender import Sender
from core.domain.jobs.cards import LiveCard, live_card_text
from core.io.group_minute import GroupMinute
from core.io.settings import Settings

log = logging.getLogger(__name__)

# The activity beats this often, so a cancellation (the step ended) reaches it within about the
# worker's heartbeat throttle, and a dead notify worker is noticed.
BEAT_SECONDS = 0.5
# After a skipped round (the chat was busy or short of budget) the next try comes sooner than a
# full interval, but never more often than this.
RETRY_SECONDS = 2.0


class LiveCardActivities:
    def __init__(
        self, sender: Sender, settings: Settings, group_minute: GroupMinute | None = None
    ) -> None:
        self.sender = sender
        self.settings = settings
        self.group_minute = group_minute

    @property
    def interval(self) -> float:
        return self.settings.live_card_interval_seconds

    @activity.defn(name="notify.live_card")
    async def live_card(self, card: LiveCard) -> int:
        """Edit the card until cancelled; returns how many edits went out when it stops itself."""
        last = ""
        edits = 0
        wait = 0.0
        # Beats all along, also while `describe()` or an edit waits on a busy server or chat: a
        # beat only between rounds let a slow describe pass the heartbeat timeout, and a live
        # worker's refresher was retried elsewhere.
        async with keep_alive(BEAT_SECONDS):
            while True:  # until cancelled (the step ended): the cancellation ends the activity
                await asyncio.sleep(wait)
                text = await self._render(card)
                if text is None:  # the step is no longer running: the workflow takes over
                    return edits
                if text == last:  # nothing new to show: an edit would change nothing
                    wait = self.interval
                    continue
                if not await self._room(card.chat_id):
                    wait = RETRY_SECONDS
                    continue
                if not await self._edit(card, text):
                    return edits
                last, edits, wait = text, edits + 1, self.interval

    async def _render(self, card: LiveCard) -> str | None:
        client = activity.client()
        desc = await client.get_workflow_handle(card.job_id).describe()
        step = _running_step(desc.raw_description.pending_activities)
        if step is None:
            return None
        started = step.last_started_time.ToDatetime(tzinfo=UTC)
        elapsed = max(0.0, (datetime.now(UTC) - started).total_seconds())
        details: dict[str, Any] = {}
        if step.heartbeat_details.payloads:
            with contextlib.suppress(Exception):
                decoded = await client.data_converter.decode(step.heartbeat_details.payloads)
                if isinstance(decoded[0], dict):
                    details = decoded[0]
        tail = str(details.get("tail") or details.get("phase") or "")
        output = details.get("output_bytes")
        # Elapsed in whole seconds from the step's start; the heartbeat's own counts since its
        # process started, which a retry restarts.
        return live_card_text(card.text, elapsed, output if isinstance(output, int) else None, tail)

    async def _room(self, chat_id: int) -> bool:
        """This process's pacer first (a 429, a call waiting for the chat, its own minute); in a
        group, then the minute as every process of the bot counted it (the bot's replies go
        from another process), with the same reserve left for results and replies."""
        room: Callable[[int], bool] | None = getattr(self.sender, "edit_room", None)
        if room is not None and not room(chat_id):
            return False
        if chat_id > 0 or self.group_minute is None:
            return True
        try:
            used = await self.group_minute.count(chat_id)
        except Exception as exc:  # the count unknown: a refresh can wait for the next round
            log.info("group minute not read: %s", type(exc).__name__)
            return False
        return used < GROUP_PER_MINUTE - GROUP_RESERVED

    async def _edit(self, card: LiveCard, text: str) -> bool:
        try:
            return await self.sender.edit(card.chat_id, card.message_id, text, card.buttons)
        except Final as err:  # the card is gone: stop, the job's own messages still come
            log.info("job %s: live card stopped: %s", card.job_id, err.message)
            return False
        except TelegramFailure:
            return True  # a passing failure (a 429, a 5xx): the next round tries again


def _running_step(pending: Any) -> PendingActivityInfo | None:
    """The job's step activity (not one of its notify activities), while it runs."""
    for info in pending:
        if info.activity_type.name.startswith(("notify.", "audit.", "reporting.model_summary")):
            continue
        if info.last_started_time.seconds:
            return info
    return None
