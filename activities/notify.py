"""Notify activities: deliver chat messages; job state messages go through the report ledger
(claim → send → confirm), shared with the heartbeat, so each change is told once."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.messages import ChatMessage, JobNotification
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

    @activity.defn(name="notify.job_update")
    async def job_update(self, note: JobNotification) -> NotifyResult:
        chat = note.message.chat_id
        if not await self.ledger.claim(note.job_id, chat, note.status):
            return NotifyResult(sent=False, reason=f"{note.status} already reported")
        try:
            ids = await self._deliver(note.message)
        except BaseException:
            await self.ledger.release(note.job_id, note.status)
            raise
        await self.ledger.confirm(note.job_id, note.status)
        return NotifyResult(sent=True, message_ids=ids)
