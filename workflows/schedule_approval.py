"""ScheduleApprovalWorkflow: a recurring job whose command an LLM wrote waits, paused, for one
decision from its chat — approved once (the schedule starts; each run then runs), denied (the
schedule is deleted) or no decision in time (deleted, the chat told once). The decision is the
same validated `approve` / `deny` Update as a one-off job's."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import calls

with workflow.unsafe.imports_passed_through():
    from core.domain.activity_stubs import settle_schedule_approval
    from core.domain.jobs.approval import DecisionGate
    from core.domain.jobs.messages import duration_text
    from core.domain.jobs.models import (
        ApprovalDecision,
        AuditEvent,
        ScheduleApproval,
        ScheduleSettlement,
    )
    from core.domain.messages import ChatMessage
    from core.domain.render import esc
    from core.domain.temporal_names import OPERATOR_QUEUE

RETRY = calls.delivery_retry(20, "ScheduleGone")


@workflow.defn(name="ScheduleApprovalWorkflow")
class ScheduleApprovalWorkflow:
    def __init__(self) -> None:
        self._request: ScheduleApproval | None = None
        self._gate = DecisionGate()  # the one decision, as a job's approval gate takes it
        self._outcome = ""  # set once the decision (or the deadline) has been carried out

    @workflow.query
    def outcome(self) -> str:
        return self._outcome or "waiting for approval"

    @workflow.update
    async def approve(self, decision: ApprovalDecision) -> str:
        return await self._decide(True, decision)

    @approve.validator
    def _validate_approve(self, decision: ApprovalDecision) -> None:
        self._validate(decision)

    @workflow.update
    async def deny(self, decision: ApprovalDecision) -> str:
        return await self._decide(False, decision)

    @deny.validator
    def _validate_deny(self, decision: ApprovalDecision) -> None:
        self._validate(decision)

    def _validate(self, decision: ApprovalDecision) -> None:
        request = self._request
        if request is None:
            raise ValueError("the request is starting; try again in a moment")
        self._gate.check(request.schedule_id, decision, request.chat_id)

    async def _decide(self, approved: bool, decision: ApprovalDecision) -> str:
        # Taken before the first await: a second Update in the same task is refused here.
        request = self._request
        assert request is not None
        when = workflow.now().strftime("%Y-%m-%d %H:%M:%S UTC")
        refusal = self._gate.take(request.schedule_id, approved, decision, when)
        if refusal:
            raise ApplicationError(refusal, type="AlreadyDecided", non_retryable=True)
        await workflow.wait_condition(lambda: bool(self._outcome))
        return self._outcome

    @workflow.run
    async def run(self, request: ScheduleApproval) -> str:
        self._request = request
        await self._audit("approval_requested", request.requested_by, request.detail)
        wait = timedelta(seconds=request.timeout_seconds)
        try:
            await workflow.wait_condition(lambda: self._gate.decided is not None, timeout=wait)
        except TimeoutError:
            reason = f"no decision within {duration_text(request.timeout_seconds)}; nothing ran"
            self._gate.closed = f"deleted: {reason}"
            await self._settle(False, reason)
            await self._audit("approval_timeout", None, reason)
            await self._tell(f"⏹ <b>{esc(request.schedule_id)}</b> was deleted: {esc(reason)}.")
            self._outcome = f"deleted: {reason}"
            return self._outcome
        assert self._gate.decided is not None
        approved, who, when = self._gate.decided
        action = "approved" if approved else "denied"
        decided = f"{action} by user {who.user_id} at {when}"
        await self._settle(approved, decided)
        await self._audit(action, who.user_id, decided)
        self._outcome = (
            f"{decided}; it runs on its schedule now"
            if approved
            else f"{decided}; deleted, nothing ran"
        )
        # The deciding Update answers with the outcome before the workflow ends.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._outcome

    async def _settle(self, approved: bool, note: str) -> None:
        request = self._request
        assert request is not None
        try:
            await workflow.execute_activity(
                settle_schedule_approval,
                ScheduleSettlement(schedule_id=request.schedule_id, approved=approved, note=note),
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=RETRY,
            )
        except ActivityError:
            workflow.logger.warning("%s: the schedule was not settled", request.schedule_id)

    async def _tell(self, text: str) -> None:
        request = self._request
        assert request is not None
        message = ChatMessage(chat_id=request.chat_id, topic_id=request.topic_id, text=text)
        try:
            await calls.send(message, RETRY, give_up_after=timedelta(hours=1))
        except ActivityError:
            workflow.logger.warning("%s: the outcome was not delivered", request.schedule_id)

    async def _audit(self, action: str, user_id: int | None, detail: str) -> None:
        request = self._request
        assert request is not None
        event = AuditEvent(
            action=action,
            job_id=request.schedule_id,
            chat_id=request.chat_id,
            user_id=user_id,
            detail=detail,
        )
        await calls.audit(event, RETRY)
