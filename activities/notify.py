"""Notify activities: deliver chat messages; job state messages go through the report ledger
(claim → send → confirm), shared with the heartbeat, so each change is told once.

A claim's owner is the activity itself (workflow, run and activity id — the same for every
retry of it): a retry after a crash between claim and confirm takes its claim back and sends,
while a claim held by someone else (the heartbeat) is waited for, never read as "already
reported".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.keepalive import keep_alive
from activities.telegram.errors import Final, RateLimited, TelegramFailure
from activities.telegram.resume import (
    DeliveredParts,
    after_first_call,
    delivered_in_activity,
    send_resuming,
)
from activities.telegram.sender import Sender
from core.domain.messages import (
    CardEdit,
    ChatMessage,
    JobNotification,
    NotifyResult,
    PhotoMessage,
    SummaryNote,
)
from core.domain.render import split_message
from core.io.ledger import ClaimOutcome, ReportLedgerStore, SummaryClaim
from core.io.metrics import RESULT_DELIVERY
from core.io.store import AuditLog, utcnow

__all__ = ["NotifyActivities", "NotifyResult", "activity_owner", "temporal_errors"]

# From its first moment to its last (the claim, a card edit, a chat's retry_after, the
# bot-wide limit) a job message's activity keeps heartbeating, so a worker that died mid-send
# is noticed within the workflow's short heartbeat timeout. The SDK sends at most one heartbeat
# per throttle interval (1 s, see `make_worker`); beating twice as often keeps one in each.
KEEPALIVE_SECONDS = 0.5
MAX_HELD_WAIT = timedelta(seconds=30)


def temporal_error(failure: TelegramFailure) -> ApplicationError:
    """A Telegram failure as Temporal retries it: a 429's wait becomes the next retry delay, a
    final one is non-retryable, a transient one takes the activity's backoff. The type is the
    failure's kind, which retry policies name (`workflows/calls.py`)."""
    if isinstance(failure, RateLimited):
        return ApplicationError(
            failure.message,
            type=failure.kind,
            next_retry_delay=timedelta(seconds=max(failure.seconds, 0.1)),
        )
    return ApplicationError(
        failure.message, type=failure.kind, non_retryable=isinstance(failure, Final)
    )


@contextlib.contextmanager
def temporal_errors() -> Iterator[None]:
    """Around an activity's Telegram calls: their failures leave as `temporal_error`s."""
    try:
        yield
    except TelegramFailure as failure:
        raise temporal_error(failure) from None


def activity_owner() -> str:
    info = activity.info()
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


class NotifyActivities:
    def __init__(self, sender: Sender, ledger: ReportLedgerStore, audit: AuditLog) -> None:
        self.sender = sender
        self.ledger = ledger
        self.audit = audit

    async def _deliver(
        self,
        message: ChatMessage,
        parts: _PartsRecord | None = None,
        delivered: DeliveredParts | None = None,
    ) -> list[int]:
        """`delivered`: the activity's own, already kept alive (`job_update`)."""
        alive = delivered is not None
        delivered = delivered or delivered_in_activity()
        if parts is not None:
            await parts.resume(delivered)
        try:
            async with contextlib.nullcontext() if alive else _keepalive(delivered):
                with temporal_errors():
                    return await send_resuming(self.sender, message, delivered)
        except ApplicationError as err:
            if err.non_retryable:
                await self.audit.record(
                    "delivery_failed", user_id=None, chat_id=message.chat_id, detail=err.message
                )
            raise
        finally:
            if parts is not None:
                await parts.flush()

    @activity.defn(name="notify.send")
    async def send(self, message: ChatMessage) -> NotifyResult:
        return NotifyResult(sent=True, message_ids=await self._deliver(message))

    @activity.defn(name="notify.send_photo")
    async def send_photo(self, message: PhotoMessage) -> NotifyResult:
        """A picture (the `/stats` chart) with its caption."""
        try:
            with temporal_errors():
                message_id = await self.sender.send_photo(message)
        except ApplicationError as err:
            if err.non_retryable:
                await self.audit.record(
                    "delivery_failed", user_id=None, chat_id=message.chat_id, detail=err.message
                )
            raise
        return NotifyResult(sent=True, message_ids=[message_id])

    @activity.defn(name="notify.edit_card")
    async def edit_card(self, edit: CardEdit) -> NotifyResult:
        """Edit a job card in place. A card that is gone (deleted, too old) is not an error worth
        retrying: the job's own messages still arrive. Kept alive like a job message: a result
        waits for its card's edit in flight, so a dead worker must be noticed in seconds."""
        async with keep_alive(KEEPALIVE_SECONDS):
            return await self._edit_card(edit)

    async def _edit_card(self, edit: CardEdit) -> NotifyResult:
        try:
            with temporal_errors():
                done = await self.sender.edit(
                    edit.chat_id, edit.message_id, edit.text, edit.buttons
                )
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            activity.logger.info("job %s: card not edited: %s", edit.job_id, err.message)
            return NotifyResult(sent=False, reason=err.message)
        return NotifyResult(sent=done, message_ids=[edit.message_id] if done else [])

    @activity.defn(name="notify.job_update")
    async def job_update(self, note: JobNotification) -> NotifyResult:
        delivered = delivered_in_activity()
        async with _keepalive(delivered):
            return await self._job_update(note, delivered)

    async def _job_update(self, note: JobNotification, delivered: DeliveredParts) -> NotifyResult:
        chat = note.message.chat_id
        owner = activity_owner()
        claim = await self.ledger.claim(note.job_id, chat, note.status, owner)
        if claim.outcome is ClaimOutcome.reported:
            # Told before: by this activity's attempt that died before it could return, or by
            # the heartbeat. Where it was told still matters (the summary is edited into it).
            shown = [claim.message_id] if claim.message_id is not None else []
            return NotifyResult(
                sent=False, message_ids=shown, reason=f"{note.status} already reported"
            )
        if claim.outcome is ClaimOutcome.held:
            # Someone else is telling it right now: wait for them to confirm (then this turns
            # into "reported") or for their lease to end (then this takes over).
            until = claim.held_until or utcnow()
            wait = min(max(until - utcnow(), timedelta(seconds=1)), MAX_HELD_WAIT)
            raise ApplicationError(
                f"job {note.job_id}: {note.status} is being reported by another sender",
                type="ClaimHeld",
                next_retry_delay=wait,
            )
        try:
            parts = _PartsRecord(self.ledger, note.job_id, owner, note.status)
            ids = await self._tell(note, parts, delivered)
        except BaseException:
            await self.ledger.release(note.job_id, owner)
            raise
        await self.ledger.confirm(
            note.job_id, note.status, owner, message_id=ids[0] if ids else None
        )
        if note.changed_at is not None:
            state = note.status.partition("#")[0]
            RESULT_DELIVERY.labels(state).observe((utcnow() - note.changed_at).total_seconds())
        return NotifyResult(sent=True, message_ids=ids)

    @activity.defn(name="notify.add_summary")
    async def add_summary(self, note: SummaryNote) -> NotifyResult:
        """Add a job's model summary to its result message, once: edited in (no second phone
        notification), or a silent follow-up where an edit cannot carry it. The ledger records
        it; an attempt that finds its own earlier attempt stopped midway edits again (an edit
        repeated changes nothing) but skips a follow-up it cannot tell was sent."""
        # One count for the whole activity, heartbeated by one keepalive (the follow-up's send
        # resumes from it), never a second beat of 0 beside it.
        delivered = delivered_in_activity()
        async with _keepalive(delivered):
            return await self._summary_claimed(note, delivered)

    async def _summary_claimed(self, note: SummaryNote, delivered: DeliveredParts) -> NotifyResult:
        owner = activity_owner()
        claim = await self.ledger.claim_summary(note.job_id, note.chat_id, owner)
        if claim is SummaryClaim.settled:
            return NotifyResult(sent=False, reason="summary already added or skipped")
        edits = note.message_id is not None and note.edited_text is not None
        if claim is SummaryClaim.resumed and not edits:
            await self.ledger.settle_summary(note.job_id, "skipped")
            return NotifyResult(sent=False, reason="summary skipped after a crash")
        try:
            ids = await self._add_summary(
                note, edits, resumed=claim is SummaryClaim.resumed, delivered=delivered
            )
        except ApplicationError as err:
            if err.non_retryable:
                await self.ledger.settle_summary(note.job_id, "skipped")
                return NotifyResult(sent=False, reason=f"summary skipped: {err.message}")
            await self.ledger.release_summary(note.job_id, owner)
            raise
        if ids is None:
            await self.ledger.settle_summary(note.job_id, "skipped")
            return NotifyResult(sent=False, reason="summary skipped after a crash")
        await self.ledger.settle_summary(note.job_id, "added")
        return NotifyResult(sent=True, message_ids=ids)

    async def _add_summary(
        self, note: SummaryNote, edits: bool, resumed: bool, delivered: DeliveredParts
    ) -> list[int] | None:
        """The ids that show the summary; None when it is skipped (a follow-up an earlier
        attempt may have sent already)."""
        if edits:
            assert note.message_id is not None and note.edited_text is not None
            edit = CardEdit(
                job_id=note.job_id,
                chat_id=note.chat_id,
                message_id=note.message_id,
                text=note.edited_text,
                buttons=note.buttons,
            )
            if (await self._edit_card(edit)).sent:
                return [note.message_id]
            if resumed:
                return None
        message = ChatMessage(
            chat_id=note.chat_id, topic_id=note.topic_id, text=note.follow_up, silent=True
        )
        return await self._deliver(message, delivered=delivered)

    async def _tell(
        self, note: JobNotification, parts: _PartsRecord, delivered: DeliveredParts
    ) -> list[int]:
        card, message = note.card, note.message
        if card is not None and note.replace_card and _fits_one_message(message):
            # A job that ended moments after its card: the card becomes the result, so the
            # person gets one message, not two.
            edit = card.model_copy(update={"text": message.text, "buttons": message.buttons})
            if (await self._edit_card(edit)).sent:
                return [card.message_id]
        elif card is not None:
            # The card's edit comes before the send, and counts as the first delivered call:
            # a retry (a 5xx that hid the send's delivery, a rate limit on it) resumes after
            # it instead of editing the card again (Telegram: "message is not modified").
            await parts.resume(delivered)
            try:
                refused: ApplicationError | None = None
                if delivered.count == 0:
                    try:
                        await self._edit_card(card)
                    except ApplicationError as err:  # a 5xx, a long 429: not the result's wait
                        refused = err
                    delivered.sent(1)
                ids = await self._deliver(message, delivered=after_first_call(delivered))
            finally:
                await parts.flush()
            if refused is not None:
                # The result went first; the card's edit is tried once more after it.
                with contextlib.suppress(ApplicationError):
                    await self._edit_card(card)
            return ids
        return await self._deliver(message, parts, delivered)


class _PartsRecord:
    """A job message's delivered calls, kept in the ledger beside its claim. Heartbeat details
    alone are not enough: the SDK sends them to the server at most every few seconds, so an
    attempt that delivers a part and then fails on the next (a 5xx on an attached document)
    can leave its retry believing nothing was sent — and the person gets the part twice."""

    def __init__(self, ledger: ReportLedgerStore, job_id: str, owner: str, status: str) -> None:
        self.ledger, self.job_id = ledger, job_id
        self.key = f"{owner}|{status}"
        self._writes: list[asyncio.Task[None]] = []

    async def resume(self, delivered: DeliveredParts) -> None:
        # The key names this activity: only one of its retries can find a count (a first
        # attempt skips the read, which keeps it off every job message's path).
        if activity.info().attempt > 1:
            stored = await self.ledger.parts_sent(self.job_id, self.key)
            delivered.count = max(delivered.count, stored)
        heartbeat = delivered.on_change

        def sent(count: int) -> None:
            if heartbeat is not None:
                heartbeat(count)
            self._writes.append(
                asyncio.create_task(self.ledger.record_parts_sent(self.job_id, self.key, count))
            )

        delivered.on_change = sent

    async def flush(self) -> None:
        """Every count written before the attempt ends, however it ends."""
        await asyncio.gather(*self._writes)


def _fits_one_message(message: ChatMessage) -> bool:
    return (
        not message.document_path
        and message.document_text is None
        and len(split_message(message.text)) == 1
    )


def _keepalive(delivered: DeliveredParts) -> contextlib.AbstractAsyncContextManager[None]:
    """The heartbeat carries the message's delivered count: a retry resumes after it."""
    return keep_alive(KEEPALIVE_SECONDS, lambda: (delivered.count,))
