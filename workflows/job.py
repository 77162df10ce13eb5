"""JobWorkflow: one durable background job.

Runs its steps as activities on each worker's task queue, keeps a status that a query returns,
upserts search attributes on every transition, and tells the job's chat about the changes its
notify policy asks for. A step that exhausts its retries does not fail the job: the job waits
(bounded) for a person's retry / reroute / cancel, keeping the finished steps.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from core.cards import CardRef, card_edit
    from core.ids import workspace_name
    from core.job_messages import finished_message, job_card, needs_attention_message
    from core.jobs import (
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
    )
    from core.messages import CardEdit, ChatMessage, JobNotification
    from core.temporal import (
        OPERATOR_QUEUE,
        SA_JOB_STATUS,
        SA_REPORT_CHAT_ID,
        SA_SCHEDULE_ID,
        SA_WORKER_NAME,
    )

NON_RETRYABLE = ["BadCommand", "WorkspaceError", "ValidationError", "UnknownWorker"]
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
    non_retryable_error_types=["ChatUnreachable", "BadMessage"],
)


# The job card in the chat is edited at most once per interval (the final state goes at once).
CARD_EDIT_INTERVAL = timedelta(seconds=3)
# A job started from a chat waits this long for its card before the result, so the card comes
# first in the chat; past it, the result goes anyway.
CARD_WAIT = timedelta(seconds=3)


def _error_text(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) and err.cause else err
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause) or type(cause).__name__


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

    # --- queries and updates ---------------------------------------------------------------
    @workflow.query
    def status(self) -> JobStatus:
        assert self._status is not None
        return self._status

    @workflow.query
    def outputs(self) -> list[StepOutput]:
        return self._outputs

    @workflow.signal
    def card_posted(self, ref: CardRef) -> None:
        """The chat shows this job's card; keep it in step with the job from now on."""
        if self._card is not None:
            return
        self._card = ref
        if ref.message_id is not None:
            self._card_task = asyncio.ensure_future(self._card_loop())

    @workflow.update
    async def retry(self, request: RetryRequest) -> str:
        self._decision = request
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
        try:
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

    async def _run_step(self, index: int) -> StepOutput:
        spec, step = self._job(), self._steps[index]
        self._status = self._state().model_copy(update={"step_index": index})
        self._transition(JobState.running, phase=f"step {index + 1}: {step.worker}")
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

    async def _await_decision(self, index: int, err: ActivityError) -> bool:
        """needs_attention: wait for retry/reroute (True) or the deadline (False)."""
        spec = self._job()
        retry_state = err.retry_state.name.lower() if err.retry_state else "failed"
        attempts = self._steps[index].retry.max_attempts
        self._status = self._state().model_copy(
            update={
                "last_error": _error_text(err),
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
        )

    async def _finish_notifications(self, state: JobState) -> None:
        spec = self._job()
        report = next((o for o in reversed(self._outputs) if o.worker == "reporting"), None)
        message = finished_message(
            spec, self._state(), self._outputs, report.output if report else None
        )
        if report and report.data.get("attach_report"):
            message.document_path = f"{workspace_name(spec.report_chat_id, spec.job_id)}/report.md"
        await self._await_card()
        if self._card_task is not None:
            # An edit in flight lands first, so the card's last version is the final one.
            try:
                await workflow.wait_condition(self._card_task_done, timeout=timedelta(seconds=60))
            except TimeoutError:
                workflow.logger.warning("job %s: a card edit did not finish", spec.job_id)
        card = card_edit(spec, self._state(), self._card) if self._card is not None else None
        if not self._notify(message, status=state, card=card) and card is not None:
            # This job's policy pushes nothing now, but its card still has to show the end.
            await self._edit_card(card)
        if self._notify_chain is not None:
            try:
                await self._notify_chain
            except ActivityError:
                workflow.logger.warning("job %s: final notification failed", spec.job_id)

    # --- the job card ----------------------------------------------------------------------
    async def _await_card(self) -> None:
        """A job a person asked for in a chat gets its card first, its result second."""
        spec = self._job()
        if self._card is not None or spec.requested_by is None or spec.schedule_id:
            return
        try:
            await workflow.wait_condition(lambda: self._card is not None, timeout=CARD_WAIT)
        except TimeoutError:
            pass

    async def _edit_card(self, edit: CardEdit) -> bool:
        """False when the card could not be edited (then no further edits are tried)."""
        try:
            await workflow.execute_activity(
                "notify.edit_card",
                edit,
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("job %s: card edit failed", edit.job_id)
            return False
        return True

    def _card_task_done(self) -> bool:
        return self._card_task is None or self._card_task.done()

    def _card_key(self) -> tuple[str, int, str, int]:
        """What the card shows. Moving on to the closing reporting step is not news: the
        final state follows within moments, with the result."""
        status = self._state()
        index = status.step_index
        if status.state is JobState.running and self._steps[index].worker == "reporting":
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
            await workflow.wait_condition(lambda: self._card_key() != self._card_shown)
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
        self._status = status.model_copy(update=update)
        self._upsert_search_attributes()

    def _upsert_search_attributes(self) -> None:
        spec, status = self._job(), self._state()
        main = next((s for s in self._steps if s.worker != "reporting"), self._steps[0])
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
        self, message: ChatMessage, status: JobState | None = None, card: CardEdit | None = None
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
            job_id=spec.job_id, status=state.value, message=message, card=card
        )

        async def send() -> object:
            if previous is not None:
                try:
                    await previous
                except ActivityError:
                    pass  # an undeliverable earlier message must not block the later ones
            return await workflow.execute_activity(
                "notify.job_update",
                notification,
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=timedelta(hours=1),
                retry_policy=NOTIFY_RETRY,
                cancellation_type=workflow.ActivityCancellationType.ABANDON,
            )

        self._notify_chain = asyncio.ensure_future(send())
        return True
