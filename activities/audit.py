"""The audit activity: a job writes its approval requests and decisions to the audit log."""

from __future__ import annotations

from temporalio import activity

from core.domain.jobs.models import AuditEvent
from core.io.store import AuditLog


class AuditActivities:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    @activity.defn(name="audit.job_event")
    async def job_event(self, event: AuditEvent) -> None:
        await self.audit.record(
            event.action,
            user_id=event.user_id,
            chat_id=event.chat_id,
            detail=event.detail,
            job_id=event.job_id,
        )
