"""Notify activities: deliver chat messages; job state messages go through the report ledger
(claim → send → confirm), shared with the heartbeat, so each change is told once."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.messages import CardEdit, ChatMessage, JobNotification
from core.store import AuditLog, ReportLedgerStore

from .senders import Sender


class NotifyResult(BaseModel):
    sent: bool
    message_ids: list[int] = []
    reason: str = ""


class NotifyActivities:
    def __init__(self, sender: Sender, ledger: ReportLedgerStore, audit: AuditLog) -> None:
        self.sender = sender
        self.ledger = ledger
        self.audit = audit

    async def _deliver(self, message: ChatMessage) -> list[int]:
        # Parts already delivered by an earlier attempt are recorded in heartbeat details.
        details = activity.info().heartbeat_details
        skip = int(details[0]) if details else 0
        try:
            return await self.sender.send(message, skip_chunks=skip, on_sent=activity.heartbeat)
        except ApplicationError as err:
            if err.non_retryable:
                await self.audit.record(
                    "delivery_failed", user_id=None, chat_id=message.chat_id, detail=err.message
                )
            raise

    @activity.defn(name="notify.send")
    async def send(self, message: ChatMessage) -> NotifyResult:
        return NotifyResult(sent=True, message_ids=await self._deliver(message))

    @activity.defn(name="notify.edit_card")
    async def edit_card(self, edit: CardEdit) -> NotifyResult:
        """Edit a job card in place. A card that is gone (deleted, too old) is not an error worth
        retrying: the job's own messages still arrive."""
        return await self._edit_card(edit)

    async def _edit_card(self, edit: CardEdit) -> NotifyResult:
        try:
            done = await self.sender.edit(edit.chat_id, edit.message_id, edit.text, edit.buttons)
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            activity.logger.info("job %s: card not edited: %s", edit.job_id, err.message)
            return NotifyResult(sent=False, reason=err.message)
        return NotifyResult(sent=done, message_ids=[edit.message_id] if done else [])

    @activity.defn(name="notify.job_update")
    async def job_update(self, note: JobNotification) -> NotifyResult:
        chat = note.message.chat_id
        if note.card is not None:
            # Before the send, so a retry after a rate limit redoes only idempotent work.
            await self._edit_card(note.card)
        if not await self.ledger.claim(note.job_id, chat, note.status):
            return NotifyResult(sent=False, reason=f"{note.status} already reported")
        try:
            ids = await self._deliver(note.message)
        except BaseException:
            await self.ledger.release(note.job_id, note.status)
            raise
        await self.ledger.confirm(note.job_id, note.status)
        return NotifyResult(sent=True, message_ids=ids)
