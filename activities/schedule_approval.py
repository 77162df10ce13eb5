"""The schedule side of a recurring job's approval: start it (its template marked approved, so
each run runs) or delete it. Called by `ScheduleApprovalWorkflow` only."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from core.domain.jobs.models import ScheduleSettlement
from core.io.jobs.schedules import ScheduleClient, ScheduleError


class ScheduleApprovalActivities:
    def __init__(self, client: Client) -> None:
        self.schedules = ScheduleClient(client)

    @activity.defn(name="schedules.settle_approval")
    async def settle_approval(self, settlement: ScheduleSettlement) -> None:
        try:
            if settlement.approved:
                await self.schedules.approve_pending(settlement.schedule_id, settlement.note)
            else:
                await self.schedules.delete(settlement.schedule_id)
        except ScheduleError as exc:  # deleted meanwhile, or decided by other means
            raise ApplicationError(str(exc), type="ScheduleGone", non_retryable=True) from None
