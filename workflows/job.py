"""JobWorkflow: one durable background job.

Runs its steps as activities on each worker's task queue, keeps a status that a query returns,
upserts search attributes on every transition, and tells the job's chat about the changes its
notify policy asks for. A step that exhausts its retries does not fail the job: the job waits
(bounded) for a person's retry / reroute / cancel, keeping the finished steps.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from workflows import calls
from workflows.errors import error_text

with workflow.unsafe.imports_passed_through():
    from core.domain.activity_stubs import (
        model_summary,
        notify_add_summary,
        notify_edit_card,
        notify_job_update,
        notify_live_card,
    )
    from core.domain.ids import workspace_name
    from core.domain.jobs.approval import DecisionGate, approval_digest
    from core.domain.jobs.cards import CardRef, LiveCard, card_edit
    from core.domain.jobs.messages import (
        approval_audit_detail,
        approval_closed_message,
        approval_outcome_edit,
        approval_request_message,
        buttons_message_id,
        duration_text,
        finished_message,
        job_card,
        needs_attention_message,
        summary_note,
    )
    from core.domain.jobs.models import (
        Approval,
        ApprovalDecision,
        AuditEvent,
        JobResult,
        JobSpec,
        JobState,
        JobStatus,
        MetadataUpdate,
        RerouteRequest,
        RetryRequest,
        StepInput,
        StepOutput,
        StepSpec,
        SummaryRequest,
        ledger_status,
    )
    from core.domain.jobs.report import deterministic_summary, report_step_needed
    from core.domain.messages import CardEdit, ChatMessage, JobNotification, NotifyResult
    from core.domain.registry import StepRole
    from core.domain.temporal_names import (
        NOTIFY_QUEUE,
        SA_JOB_STATUS,
        SA_REPORT_CHAT_ID,
        SA_SCHEDULE_ID,
        SA_WORKER_NAME,
    )

NON_RETRYABLE = ["BadCommand", "WorkspaceError", "ValidationError", "UnknownWorker"]
# A job message's send that failed (a 5xx, a worker that died mid-send) is tried again after a
# quarter second, then backing off: from one second, two failures in a row cost a result 3 s and
# three 7 s, which was the tail of the latency from a job's end to its message.
NOTIFY_RETRY = calls.delivery_retry(20, first_retry=timedelta(milliseconds=250))


# The job card in the chat is edited at most once per interval (the final state goes at once).
CARD_EDIT_INTERVAL = timedelta(seconds=3)
# A job that ends within this long of its start (its card was barely seen) has its card edited
# into the result: one message in the chat, not two. Longer jobs get the result as a new
# message (which notifies the person) and the card shows the final state.
FAST_RESULT_WINDOW = timedelta(seconds=5)
# Notify activities: a worker that dies mid-send is noticed by its missing heartbeat.
NOTIFY_START_TO_CLOSE = timedelta(seconds=120)
NOTIFY_HEARTBEAT_TIMEOUT = calls.NOTIFY_HEARTBEAT_TIMEOUT
# The model's summary, asked for once the result is on its way: bounded by the model's own
# timeout inside the activity; the activity heartbeats, so a dead reporting worker is noticed
# soon and the call tried once more. A summary that does not come is skipped, nothing else.
SUMMARY_START_TO_CLOSE = timedelta(minutes=65)
SUMMARY_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
SUMMARY_RETRY = RetryPolicy(maximum_attempts=2)
# The live card's activity: a notify worker that dies is replaced; a card that is gone is not.
LIVE_CARD_RETRY = calls.delivery_retry(3)


def _clock(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


@workflow.defn(name="JobWorkflow")
class JobWorkflow:
    def __init__(self) -> None:
        self._spec: JobSpec | None = None
        self._status: JobStatus | None = None
        self._steps: list[StepSpec] = []
        self._outputs: list[StepOutput] = []
        self._decision: RetryRequest | RerouteRequest | None = None
        self._notify_chain: asyncio.Future[object] | None = None
        self._card: CardRef | None = None
        self._indexed: tuple[str, str, int, str | None] | None = None
        self._card_task: asyncio.Future[None] | None = None
        self._card_shown: tuple[str, int, str, int] | None = None
        self._final: tuple[ChatMessage | None, str] = (None, "")
        # The approval gate: one decision (approved?, who, when), or why it closed without one.
        self._gate = DecisionGate()
        # The SHA-256 of what the approval request showed; what runs must have it.
        self._shown_digest: str | None = None
        # The live card: the step that said it runs long, and the task keeping the card live.
        self._running_long: int | None = None
        self._live_task: asyncio.Future[None] | None = None
        self._live_editing = False
        self._approval_request: asyncio.Future[object] | None = None

    # --- queries and updates ---------------------------------------------------------------
    @workflow.query
    def status(self) -> JobStatus:
        assert self._status is not None
        return self._status

    @workflow.query
    def outputs(self) -> list[StepOutput]:
        return self._outputs

    @workflow.signal
    def step_running_long(self, step_index: int) -> None:
        """The running step has run a while (sent by the step itself, once): keep the card live."""
        self._running_long = step_index

    @workflow.update
    async def retry(self, request: RetryRequest) -> str:
        self._decision = request
        self._next_episode()
        return f"retrying step {self._state().step_index + 1}"

    @retry.validator
    def _validate_retry(self, request: RetryRequest) -> None:
        state = self._state()
        if state.state is not JobState.needs_attention:
            raise ValueError(
                f"{state.job_id} is {state.state.value}; "
                "retry applies to a job that needs attention"
            )

    @workflow.update
    async def reroute(self, request: RerouteRequest) -> str:
        index = self._reroute_index(request)
        old = self._steps[index]
        self._steps[index] = old.model_copy(
            update={
                "worker": request.worker,
                "task_queue": request.task_queue,
                "activity": request.activity,
            }
        )
        if self._state().state is JobState.needs_attention and index == self._state().step_index:
            self._decision = request
            self._next_episode()
        self._upsert_search_attributes()
        return f"step {index + 1} moves from {old.worker} to {request.worker}"

    @reroute.validator
    def _validate_reroute(self, request: RerouteRequest) -> None:
        self._reroute_index(request)

    @workflow.update
    def update_metadata(self, request: MetadataUpdate) -> dict[str, str]:
        spec = self._job()
        spec.metadata.update(request.metadata)
        return dict(spec.metadata)

    @update_metadata.validator
    def _validate_metadata(self, request: MetadataUpdate) -> None:
        if len(self._job().metadata) + len(request.metadata) > 50:
            raise ValueError("a job keeps at most 50 metadata entries")
        for key, value in request.metadata.items():
            if not key or len(key) > 64 or len(value) > 1000:
                raise ValueError("metadata keys are 1-64 characters, values at most 1000")

    @workflow.update
    def approve(self, decision: ApprovalDecision) -> str:
        self._take_decision(True, decision)
        return f"approved; {self._job().job_id} runs now"

    @approve.validator
    def _validate_approve(self, decision: ApprovalDecision) -> None:
        self._validate_decision(decision)

    @workflow.update
    def deny(self, decision: ApprovalDecision) -> str:
        self._take_decision(False, decision)
        return f"denied; {self._job().job_id} will not run"

    @deny.validator
    def _validate_deny(self, decision: ApprovalDecision) -> None:
        self._validate_decision(decision)

    def _validate_decision(self, decision: ApprovalDecision) -> None:
        """One decision, by the job's own chat, while the job waits; a refusal says why."""
        if self._spec is None or self._status is None:
            raise ValueError("the job is starting; try again in a moment")
        spec = self._spec
        if spec.approval is not Approval.required:
            raise ValueError(f"{spec.job_id} did not ask for approval")
        self._gate.check(spec.job_id, decision, spec.report_chat_id)
        if self._status.state is not JobState.awaiting_approval:
            raise ValueError(f"{spec.job_id} is {self._status.state.value}, not awaiting approval")

    def _take_decision(self, approved: bool, decision: ApprovalDecision) -> None:
        """Synchronously, first thing in the handler: the second of two Updates in one workflow
        task is refused here with the first one's decision."""
        spec = self._job()
        when = _clock(workflow.now())
        refusal = self._gate.take(spec.job_id, approved, decision, when)
        if refusal:
            raise ApplicationError(refusal, type="AlreadyDecided", non_retryable=True)

    def _reroute_index(self, request: RerouteRequest) -> int:
        status = self._state()
        if status.state.is_final:
            raise ValueError(f"{status.job_id} has already {status.state.value}")
        if request.step_index is not None:
            index = request.step_index
            if not status.step_index <= index < len(self._steps):
                raise ValueError(f"step {index + 1} has already run or does not exist")
            if index == status.step_index and status.state is not JobState.needs_attention:
                raise ValueError(f"step {index + 1} is running; reroute it once it needs attention")
            return index
        if status.state is JobState.needs_attention:
            return status.step_index
        if status.step_index + 1 < len(self._steps):
            return status.step_index + 1
        raise ValueError(f"{status.job_id} has no failed or pending step to reroute")

    # --- the job ---------------------------------------------------------------------------
    @workflow.run
    async def run(self, spec: JobSpec) -> JobResult:
        run_id = workflow.info().workflow_id
        if run_id != spec.job_id and run_id.startswith(spec.job_id):
            # A schedule's run: Temporal appended the scheduled time to the template's id.
            spec = spec.model_copy(update={"job_id": run_id})
        self._spec = spec
        self._steps = list(spec.steps)
        self._indexed = self._indexed_at_start()
        if spec.card_message_id is not None:
            # The chat shows this job's card (posted before the job started): keep it in step.
            self._card = CardRef(message_id=spec.card_message_id, why=spec.card_why)
            self._card_task = asyncio.ensure_future(self._card_loop())
        now = workflow.now()
        self._status = JobStatus(
            job_id=spec.job_id,
            goal=spec.goal,
            step_count=len(spec.steps),
            worker=spec.steps[0].worker,
            created_at=now,
            updated_at=now,
            schedule_id=spec.schedule_id,
        )
        _count(JOBS_STARTED, worker=spec.steps[0].worker)
        try:
            if spec.approval is Approval.required and not await self._approval_gate():
                return await self._close_unapproved()
            if spec.approval is Approval.auto_approved:
                await self._audit("auto_approved", None, approval_audit_detail(spec))
            self._transition(JobState.running, phase=f"step 1: {spec.steps[0].worker}")
            if not spec.announced:
                self._notify(job_card(spec, self._state()))
            index = 0
            while index < len(self._steps):
                try:
                    self._outputs.append(await self._run_step(index))
                    index += 1
                except ActivityError as err:
                    if isinstance(err.cause, CancelledError):
                        raise asyncio.CancelledError() from err
                    if not await self._await_decision(index, err):
                        return await self._finish(JobState.failed)
            return await self._finish(JobState.completed)
        except (asyncio.CancelledError, CancelledError):
            # Temporal's cancellation: the running activity was cancelled (its process group
            # killed); finished steps stay in the workspace. Report, then end as cancelled.
            self._transition(JobState.cancelled, phase="cancelled")
            await self._finish_notifications(JobState.cancelled)
            raise

    # --- the approval gate -------------------------------------------------------------------
    async def _approval_gate(self) -> bool:
        """awaiting_approval: ask the chat once (unless the operator's reply already did),
        then wait for Approve (True), Deny or the deadline (False). Nothing has run yet."""
        spec = self._job()
        self._transition(JobState.awaiting_approval, phase="waiting for approval")
        await self._audit("approval_requested", spec.requested_by, approval_audit_detail(spec))
        if not spec.announced and self._notify(
            approval_request_message(spec), status=JobState.awaiting_approval
        ):
            self._approval_request = self._notify_chain
        # The request (the operator's reply or the message above) shows this digest.
        self._shown_digest = approval_digest(spec)
        wait = timedelta(seconds=spec.approval_timeout_seconds)
        try:
            await workflow.wait_condition(lambda: self._gate.decided is not None, timeout=wait)
        except TimeoutError:
            self._gate.closed = (
                f"no decision within {duration_text(spec.approval_timeout_seconds)}; nothing ran"
            )
            await self._audit("approval_timeout", None, self._gate.closed)
            waited = duration_text(spec.approval_timeout_seconds)
            await self._close_approval_request(f"⌛ expired after {waited}; nothing ran")
            return False
        assert self._gate.decided is not None
        approved, who, when = self._gate.decided
        action = "approved" if approved else "denied"
        await self._audit(action, who.user_id, f"{action} by user {who.user_id} at {when}")
        icon = "✅" if approved else "🚫"
        await self._close_approval_request(f"{icon} {action} by user {who.user_id} at {when}")
        return approved

    async def _close_approval_request(self, outcome: str) -> None:
        """The approval request, edited to say how it ended, its buttons gone: an old message
        never looks as if it still waits for a press."""
        if not workflow.patched("approval-request-closed"):
            return
        spec = self._job()
        message_id = spec.approval_message_id
        if message_id is None and self._approval_request is not None:
            try:
                told = await self._approval_request
            except ActivityError:
                told = None
            if isinstance(told, NotifyResult):
                text = approval_request_message(spec).text
                message_id = buttons_message_id(text, told.message_ids)
        if message_id is not None:
            await self._edit_card(approval_outcome_edit(spec, message_id, outcome))

    async def _close_unapproved(self) -> JobResult:
        """Denied or timed out: the job ends cancelled, nothing ran, the chat is told once."""
        spec = self._job()
        if self._gate.decided is not None:
            reason = f"denied by user {self._gate.decided[1].user_id}; nothing ran"
            phase = "denied"
        else:
            reason, phase = self._gate.closed, "approval timed out"
        self._status = self._state().model_copy(update={"last_error": reason})
        self._transition(JobState.cancelled, phase=phase)
        self._notify(approval_closed_message(spec, reason), status=JobState.cancelled)
        if self._notify_chain is not None:
            try:
                await self._notify_chain
            except ActivityError:
                workflow.logger.warning(
                    "job %s: the approval outcome was not delivered", spec.job_id
                )
        return JobResult(job_id=spec.job_id, state=JobState.cancelled, last_error=reason)

    async def _audit(self, action: str, user_id: int | None, detail: str) -> None:
        spec = self._job()
        event = AuditEvent(
            action=action,
            job_id=spec.job_id,
            chat_id=spec.report_chat_id,
            user_id=user_id,
            detail=detail,
        )
        await calls.audit(event, NOTIFY_RETRY)

    async def _run_step(self, index: int) -> StepOutput:
        spec, step = self._job(), self._steps[index]
        if self._shown_digest is not None:
            running = approval_digest(spec.model_copy(update={"steps": self._steps}))
            if running != self._shown_digest:
                # Unreachable while the spec's steps keep their parameters; if they ever did
                # not, nothing the person did not see may run.
                raise ApplicationError(
                    f"step {index + 1} is not what was approved (sha256 {running[:12]}…, "
                    f"approved {self._shown_digest[:12]}…); nothing more runs",
                    type="BadCommand",
                    non_retryable=True,
                )
        self._status = self._state().model_copy(update={"step_index": index})
        self._transition(JobState.running, phase=f"step {index + 1}: {step.worker}")
        if step.role is StepRole.report and self._report_renders_here():
            return self._plain_report(step)
        live = self._card is not None and self._card.message_id is not None
        if live:
            self._running_long = None
            self._live_task = asyncio.ensure_future(self._live_card(index))
        try:
            return await self._step_activity(index, live)
        finally:
            if self._live_task is not None and not self._live_task.done():
                # Not waited for here: the result goes first (`_finish_notifications`).
                self._live_task.cancel()

    async def _step_activity(self, index: int, live: bool) -> StepOutput:
        spec, step = self._job(), self._steps[index]
        return await workflow.execute_activity(
            step.activity,
            StepInput(
                job_id=spec.job_id,
                step_index=index,
                worker=step.worker,
                goal=spec.goal,
                params=step.params,
                workspace=workspace_name(spec.report_chat_id, spec.job_id),
                timeout_seconds=step.timeout_seconds,
                previous=list(self._outputs),
                live_card=live,
            ),
            task_queue=step.task_queue,
            result_type=StepOutput,
            start_to_close_timeout=timedelta(seconds=step.timeout_seconds + 30),
            heartbeat_timeout=(
                timedelta(seconds=step.heartbeat_timeout_seconds)
                if step.heartbeat_timeout_seconds
                else None
            ),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=step.retry.initial_interval_seconds),
                backoff_coefficient=step.retry.backoff_coefficient,
                maximum_interval=timedelta(seconds=step.retry.max_interval_seconds),
                maximum_attempts=step.retry.max_attempts,
                non_retryable_error_types=NON_RETRYABLE,
            ),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    def _report_renders_here(self) -> bool:
        """The reporting step is left to the workflow (its result message goes out in this same
        workflow task) when it would only render a short output: no report file to attach, no
        model summary to ask for. Jobs planned before `report_when_needed` always run it."""
        spec = self._job()
        return spec.report_when_needed and not report_step_needed(
            self._outputs, spec.model_summaries
        )

    def _plain_report(self, step: StepSpec) -> StepOutput:
        body, _ = deterministic_summary(self._outputs)
        return StepOutput(worker=step.worker, summary="the output, shown whole", output=body)

    async def _await_decision(self, index: int, err: ActivityError) -> bool:
        """needs_attention: wait for retry/reroute (True) or the deadline (False)."""
        spec = self._job()
        retry_state = err.retry_state.name.lower() if err.retry_state else "failed"
        attempts = self._steps[index].retry.max_attempts
        self._status = self._state().model_copy(
            update={
                "last_error": error_text(err),
                "attempt": attempts if retry_state == "maximum_attempts_reached" else 1,
            }
        )
        self._transition(JobState.needs_attention, phase=f"step {index + 1} failed")
        wait = timedelta(seconds=spec.needs_attention_timeout_seconds)
        self._notify(
            needs_attention_message(spec, self._state(), wait.total_seconds() / 3600),
            status=JobState.needs_attention,
        )
        self._decision = None
        try:
            await workflow.wait_condition(lambda: self._decision is not None, timeout=wait)
        except TimeoutError:
            self._status = self._state().model_copy(
                update={"last_error": f"no decision within {wait}; " + self._state().last_error}
            )
            return False
        return True

    async def _finish(self, state: JobState) -> JobResult:
        self._transition(state, phase=state.value)
        await self._finish_notifications(state)
        status = self._state()
        return JobResult(
            job_id=status.job_id,
            state=state,
            outputs=self._outputs,
            message=status.progress,
            last_error=status.last_error,
            final_message=self._final[0],
            final_status=self._final[1],
        )

    async def _finish_notifications(self, state: JobState) -> None:
        spec = self._job()
        reporters = {s.worker for s in self._steps if s.role is StepRole.report}
        report = next((o for o in reversed(self._outputs) if o.worker in reporters), None)
        message = finished_message(
            spec, self._state(), self._outputs, report.output if report else None
        )
        if report and report.data.get("attach_report"):
            message.document_path = f"{workspace_name(spec.report_chat_id, spec.job_id)}/report.md"
        self._final = (message, self._ledger_status(state))
        if self._card_task is not None:
            # An edit in flight lands first, so the card's last version is the final one.
            try:
                await workflow.wait_condition(self._card_task_done, timeout=timedelta(seconds=60))
            except TimeoutError:
                workflow.logger.warning("job %s: a card edit did not finish", spec.job_id)
        # A live card still being edited gets its final version once its last edit is done,
        # after the result: a card edit never holds a result back.
        card_later = self._live_editing
        card = (
            card_edit(spec, self._state(), self._card)
            if self._card is not None and not card_later
            else None
        )
        fast = (
            self._state().episode == 1
            and workflow.now() - workflow.info().start_time <= FAST_RESULT_WINDOW
        )
        told = self._notify(message, status=state, card=card, replace_card=fast)
        if not told and card:
            # This job's policy pushes nothing now, but its card still has to show the end.
            await self._edit_card(card)
        # The result never waits for the model: its summary is asked for beside the send, and
        # joins the result message once both are done. Only when the reporting step said one
        # is worth asking for (a model, a long output): a job without costs no activity more.
        summary: asyncio.Future[str] | None = None
        if told and state is JobState.completed and report and report.data.get("summary_wanted"):
            queue = next(s.task_queue for s in reversed(self._steps) if s.role is StepRole.report)
            summary = asyncio.ensure_future(self._model_summary(queue))
        if card_later:
            await workflow.wait_condition(lambda: not self._live_editing)
            assert self._card is not None
            final_card = card_edit(spec, self._state(), self._card)
            if final_card is not None:
                await self._edit_card(final_card)
        delivered: NotifyResult | None = None
        if self._notify_chain is not None:
            try:
                result = await self._notify_chain
                delivered = result if isinstance(result, NotifyResult) else None
            except ActivityError:
                workflow.logger.warning("job %s: final notification failed", spec.job_id)
        if summary is not None:
            await self._add_summary(message, summary, delivered)

    async def _model_summary(self, task_queue: str) -> str:
        spec = self._job()
        try:
            return await workflow.execute_activity(
                model_summary,
                SummaryRequest(
                    job_id=spec.job_id,
                    workspace=workspace_name(spec.report_chat_id, spec.job_id),
                ),
                task_queue=task_queue,
                start_to_close_timeout=SUMMARY_START_TO_CLOSE,
                heartbeat_timeout=SUMMARY_HEARTBEAT_TIMEOUT,
                retry_policy=SUMMARY_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("job %s: no summary (the reporting worker failed)", spec.job_id)
            return ""

    async def _add_summary(
        self, message: ChatMessage, summary: asyncio.Future[str], delivered: NotifyResult | None
    ) -> None:
        """The summary into the message that told the result (or a silent follow-up); nothing
        when the model gave none or the result was never told."""
        text = await summary
        if not text or delivered is None:
            return  # no summary, or the result was not told (the heartbeat may tell it later)
        spec = self._job()
        try:
            await workflow.execute_activity(
                notify_add_summary,
                summary_note(message, spec.job_id, text, delivered.message_ids),
                task_queue=NOTIFY_QUEUE,
                start_to_close_timeout=NOTIFY_START_TO_CLOSE,
                heartbeat_timeout=NOTIFY_HEARTBEAT_TIMEOUT,
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("job %s: summary not added", spec.job_id)

    # --- the job card ----------------------------------------------------------------------
    async def _edit_card(self, edit: CardEdit) -> bool:
        """False when the card could not be edited (then no further edits are tried). The
        activity heartbeats: the final result waits for an edit in flight, and without a
        heartbeat timeout an edit on a killed worker held it back for the whole 30 s
        start-to-close timeout."""
        return await calls.best_effort(
            notify_edit_card,
            edit,
            task_queue=NOTIFY_QUEUE,
            retry=NOTIFY_RETRY,
            failed=f"job {edit.job_id}: card edit failed",
            heartbeat_timeout=NOTIFY_HEARTBEAT_TIMEOUT,
        )

    async def _live_card(self, index: int) -> None:
        """Once step `index` says it runs long, a notify activity keeps the card live (elapsed
        time, the output's last lines) until the step ends and this task is cancelled. A step
        that ends sooner costs the history nothing: this only waited for the signal."""
        await workflow.wait_condition(lambda: self._running_long == index)
        assert self._card is not None
        edit = card_edit(self._job(), self._state(), self._card)
        if edit is None:
            return
        self._live_editing = True
        try:
            await workflow.execute_activity(
                notify_live_card,
                LiveCard(
                    job_id=edit.job_id,
                    chat_id=edit.chat_id,
                    message_id=edit.message_id,
                    step_index=index,
                    text=edit.text,
                    buttons=edit.buttons,
                ),
                task_queue=NOTIFY_QUEUE,
                start_to_close_timeout=timedelta(seconds=self._steps[index].timeout_seconds + 60),
                heartbeat_timeout=NOTIFY_HEARTBEAT_TIMEOUT,
                retry_policy=LIVE_CARD_RETRY,
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError:
            workflow.logger.info("job %s: the live card stopped", edit.job_id)
        finally:
            self._live_editing = False

    def _card_task_done(self) -> bool:
        return self._card_task is None or self._card_task.done()

    def _card_key(self) -> tuple[str, int, str, int]:
        """What the card shows. Moving on to the closing reporting step is not news: the
        final state follows within moments, with the result."""
        status = self._state()
        index = status.step_index
        if status.state is JobState.running and self._steps[index].role is StepRole.report:
            index = max(index - 1, 0)
        return (status.state.value, index, self._steps[index].worker, status.attempt)

    async def _card_loop(self) -> None:
        """Edit the card on each change the person can see (state, step, worker, attempt),
        throttled to one edit per CARD_EDIT_INTERVAL; ends with the final state."""
        # The signal can be delivered in the job's very first workflow task, before run().
        await workflow.wait_condition(lambda: self._spec is not None and self._status is not None)
        spec = self._job()
        self._card_shown = (JobState.running.value, 0, self._steps[0].worker, 0)
        while True:
            await workflow.wait_condition(
                lambda: self._card_key() != self._card_shown and not self._live_editing
            )
            if self._state().state.is_final:
                return  # the final notification edits the card in the same activity
            key = self._card_key()
            assert self._card is not None
            edit = card_edit(spec, self._state(), self._card)
            if edit is None or not await self._edit_card(edit):
                return
            self._card_shown = key

            try:
                await workflow.wait_condition(
                    lambda: self._state().state.is_final, timeout=CARD_EDIT_INTERVAL
                )
            except TimeoutError:
                pass

    # --- helpers ---------------------------------------------------------------------------
    def _job(self) -> JobSpec:
        assert self._spec is not None
        return self._spec

    def _state(self) -> JobStatus:
        assert self._status is not None
        return self._status

    def _transition(self, state: JobState, *, phase: str) -> None:
        status = self._state()
        index = min(status.step_index, len(self._steps) - 1)
        update: dict[str, object] = {
            "state": state,
            "phase": phase,
            "worker": self._steps[index].worker,
            "updated_at": workflow.now(),
        }
        if state.is_final:
            update["finished_at"] = workflow.now()
            if not status.state.is_final:
                # By the job's first worker, as it was counted when started.
                _count(JOBS_FINISHED, worker=self._steps[0].worker, state=state.value)
        self._status = status.model_copy(update=update)
        self._upsert_search_attributes()

    def _next_episode(self) -> None:
        status = self._state()
        self._status = status.model_copy(update={"episode": status.episode + 1})

    def _ledger_status(self, state: JobState) -> str:
        return ledger_status(state, self._state().episode)

    def _indexed_at_start(self) -> tuple[str, str, int, str | None] | None:
        """The search attributes the job was started with (so an unchanged value is not
        upserted again: each upsert is a history event and a visibility write)."""
        start = workflow.info().typed_search_attributes
        state, worker = start.get(SA_JOB_STATUS), start.get(SA_WORKER_NAME)
        chat = start.get(SA_REPORT_CHAT_ID)
        if state is None or worker is None or chat is None:
            return None
        return (state, worker, chat, start.get(SA_SCHEDULE_ID))

    def _upsert_search_attributes(self) -> None:
        spec, status = self._job(), self._state()
        main = next((s for s in self._steps if s.role is StepRole.work), self._steps[0])
        indexed = (status.state.value, main.worker, spec.report_chat_id, spec.schedule_id)
        if indexed == self._indexed:
            return  # each upsert is an event and a visibility write: only on real changes
        self._indexed = indexed
        updates: list[SearchAttributeUpdate[Any]] = [
            SA_JOB_STATUS.value_set(status.state.value),
            SA_WORKER_NAME.value_set(main.worker),
            SA_REPORT_CHAT_ID.value_set(spec.report_chat_id),
        ]
        if spec.schedule_id:
            updates.append(SA_SCHEDULE_ID.value_set(spec.schedule_id))
        workflow.upsert_search_attributes(updates)

    def _notify(
        self,
        message: ChatMessage,
        status: JobState | None = None,
        card: CardEdit | None = None,
        replace_card: bool = False,
    ) -> bool:
        """Queue a chat message after the previous one (per-job order), if the policy wants it;
        False when it does not.

        State messages go through the report ledger, so the heartbeat never repeats them."""
        spec = self._job()
        state = status or self._state().state
        if not spec.notify.wants(state):
            return False
        previous = self._notify_chain
        notification = JobNotification(
            job_id=spec.job_id,
            status=self._ledger_status(state),
            message=message,
            card=card,
            replace_card=replace_card,
            changed_at=self._state().finished_at if state.is_final else None,
        )

        async def send() -> object:
            if previous is not None:
                try:
                    await previous
                except ActivityError as err:  # undeliverable: it must not block the later ones
                    workflow.logger.warning(
                        "job %s: an earlier message was not delivered (%s)",
                        spec.job_id,
                        err.cause or err,
                    )
            return await workflow.execute_activity(
                notify_job_update,
                notification,
                task_queue=NOTIFY_QUEUE,
                start_to_close_timeout=NOTIFY_START_TO_CLOSE,
                heartbeat_timeout=NOTIFY_HEARTBEAT_TIMEOUT,
                schedule_to_close_timeout=timedelta(hours=1),
                retry_policy=NOTIFY_RETRY,
                cancellation_type=workflow.ActivityCancellationType.ABANDON,
            )

        self._notify_chain = asyncio.ensure_future(send())
        return True


# Job counters, exported with the SDK's metrics (the workflow meter records nothing on replay).
JOBS_STARTED = "hbo_jobs_started"
JOBS_FINISHED = "hbo_jobs_finished"


def _count(name: str, **labels: str) -> None:
    workflow.metric_meter().create_counter(name, "jobs", "jobs").add(1, labels)
