"""HeartbeatWorkflow: one heartbeat run for one target, started by the target's Schedule.

In order: load the target's settings; stop early in quiet hours
(workflow time); skip while the chat is busy or unreachable; report the jobs' changes since they
were last told (ledger compare-and-set shared with each job's own push); then — only with a
prompt or a checklist to follow — run the heartbeat agent, or start the configured trigger
workflow; dispatch; record the run. With nothing changed and nothing to follow, a run makes no
LLM call and sends nothing. A failed run is recorded and the schedule keeps going; after
`max_consecutive_failures` in a row the schedule pauses itself. An LLM outage (the agent's
`LLMUnavailable`) is a skipped run, not a failure: it never pauses the schedule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    FailureError,
    WorkflowAlreadyStartedError,
)

from workflows import calls
from workflows.errors import error_text

A = TypeVar("A")
R = TypeVar("R")

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from core.domain.activity_stubs import (
        heartbeat_find_duplicates,
        heartbeat_follow_up,
        heartbeat_gather_changes,
        heartbeat_pause_schedule,
        heartbeat_prepare,
        heartbeat_record_run,
        heartbeat_report_changes,
        heartbeat_resolve_prompt,
        heartbeat_run_agent,
        heartbeat_validate_chat,
    )
    from core.domain.heartbeat.ack import scrub_echo, strip_ack
    from core.domain.heartbeat.duplicates import DUPLICATE_WINDOW, first_of_each
    from core.domain.heartbeat.messages import no_llm_notice, result_message
    from core.domain.heartbeat.models import (
        AgentRequest,
        AgentResult,
        ChangeSet,
        DuplicateCheck,
        FollowUpRequest,
        GatherRequest,
        HeartbeatPlan,
        HeartbeatRunSummary,
        HeartbeatTrigger,
        Outcome,
        PauseRequest,
        ReportRequest,
        RunFigures,
        RunRecord,
    )
    from core.domain.heartbeat.prompt import PreambleContext, PromptResolution, build_preamble
    from core.domain.heartbeat.quiet import quiet_decision
    from core.domain.heartbeat.target import HeartbeatTarget
    from core.domain.messages import ChatMessage
    from core.domain.temporal_names import OPERATOR_QUEUE

LOCAL_TIMEOUT = timedelta(seconds=60)
LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
# Below LOCAL_RETRY's first interval: a failed local attempt is retried after a workflow timer,
# never inside the SDK's core. A core-side retry leaves the failed attempt's start-to-close timer
# running on its own; firing after the worker has stopped, it panics in the SDK's runtime
# ("receive half not dropped"), and a worker stopping mid-backoff waits out every attempt first.
LOCAL_RETRY_THRESHOLD = timedelta(milliseconds=1)
# Runs since this patch take their steps (prepare, gather, prompt, duplicates, record) as
# ordinary activities: a local activity keeps its workflow task open while it runs, so under a
# herd of ticks queued in one worker a single workflow task took seconds (TMPRL1104). Runs
# recorded before keep their local activities on replay.
STEPS_AS_ACTIVITIES = "heartbeat-steps-as-activities"
STEP_TIMEOUT = timedelta(seconds=60)
STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
SEND_RETRY = calls.delivery_retry(10, "BadToken")
AGENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_attempts=2,
    non_retryable_error_types=["NoLLM", "LLMError", "LLMUnavailable"],
)


def _hours(span: timedelta) -> int:
    return int(span.total_seconds() // 3600)


class _Run(RunFigures):
    """What one run did, gathered as it goes; becomes the heartbeat log entry."""

    target: HeartbeatTarget
    started_at: datetime
    notes: list[str] = Field(default_factory=list)
    skipped: str = ""
    error: str = ""
    posted: bool = False
    suppressed: bool = False

    def note(self, text: str) -> None:
        if text:
            self.notes.append(text)

    @property
    def outcome(self) -> Outcome:
        if self.error:
            return "failed"
        if self.skipped:
            return "skipped"
        if self.posted:
            return "posted"
        if self.duplicates:
            return "duplicate"
        if self.suppressed:
            return "suppressed"
        return "silent"

    @property
    def reason(self) -> str:
        head = self.error or self.skipped
        parts = [head, *self.notes] if head else self.notes
        return "; ".join(parts) or "nothing changed, nothing to follow"


def preamble_for(plan: HeartbeatPlan, changes: ChangeSet, now: datetime) -> str:
    """The metadata preamble the agent reads before the checklist."""
    config = plan.config
    return build_preamble(
        PreambleContext(
            now=now,
            timezone=config.timezone,
            target_name=plan.target_name,
            interval_minutes=config.interval_minutes,
            run_number=plan.run_number,
            last_run_at=plan.last_run_at,
            messages_since_last_run=plan.messages_since_last_run,
            last_user_message_at=plan.last_user_message_at,
            previous_result=plan.previous_result,
            previous_result_max_chars=config.previous_result_max_chars,
            recent_runs=plan.recent_runs,
            job_changes=[change.line() for change in changes.changes],
            ack_token=config.ack_token,
            dispatch_mode=config.dispatch_mode,
            repetition_results=plan.repetition_results,
        )
    )


IDLE_REASON = "nothing to watch: no running or unreported job, no checklist items, no trigger"


@workflow.defn(name="HeartbeatWorkflow")
class HeartbeatWorkflow:
    def __init__(self) -> None:
        self._as_activities = False

    async def _step(self, stub: Callable[[A], Awaitable[R]], arg: A) -> R:
        """One of the run's short database/file steps."""
        if self._as_activities:
            return await workflow.execute_activity(
                stub,
                arg,  # on this run's own task queue
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
        return await workflow.execute_local_activity(
            stub,
            arg,
            start_to_close_timeout=LOCAL_TIMEOUT,
            retry_policy=LOCAL_RETRY,
            local_retry_threshold=LOCAL_RETRY_THRESHOLD,
        )

    @workflow.run
    async def run(self, target: HeartbeatTarget) -> HeartbeatRunSummary:
        self._as_activities = workflow.patched(STEPS_AS_ACTIVITIES)
        run = _Run(target=target, started_at=workflow.now())
        try:
            plan = await self._step(heartbeat_prepare, target)
        except FailureError as err:
            if isinstance(err, CancelledError):
                raise
            run.error = f"could not load the heartbeat's settings: {error_text(err)}"
            plan = HeartbeatPlan(target=target)
            return await self._finish(plan, run)
        if not plan.exists:
            return HeartbeatRunSummary(outcome="skipped", reason="no such heartbeat target")
        if plan.idle:  # the one cheap check found nothing: no log entry, no further step
            reason = "; ".join([IDLE_REASON, *([plan.idle_note] if plan.idle_note else [])])
            return HeartbeatRunSummary(outcome="silent", reason=reason)
        try:
            await self._run(plan, run)
        except FailureError as err:
            # An activity or child that failed for good (a local activity's failure arrives
            # unwrapped, as the ApplicationError itself). Cancellation still cancels.
            if isinstance(err, CancelledError):
                raise
            run.error = error_text(err)
        return await self._finish(plan, run)

    # --- the steps ---------------------------------------------------------------------------
    async def _run(self, plan: HeartbeatPlan, run: _Run) -> None:
        config, target = plan.config, plan.target
        if plan.fired:
            run.note("fired by hand")
        quiet = quiet_decision(
            workflow.now(),
            config.quiet_window,
            config.timezone,
            config.quiet_interval_minutes,
            plan.last_executed_at,
        )
        if quiet.skip and not plan.fired:
            run.skipped = quiet.reason
            return
        run.note(quiet.reason)
        if plan.busy_reason and not plan.fired:  # a person asking for a run now is not busy
            run.skipped = plan.busy_reason
            return
        if plan.unreachable_reason:
            run.skipped = f"unreachable (checked within the hour): {plan.unreachable_reason}"
            return
        if plan.needs_validation:
            validation = await workflow.execute_activity(
                heartbeat_validate_chat,
                target,
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            if not validation.ok:
                run.skipped = f"unreachable: {validation.reason}"
                return
        run.executed = True
        changes = await self._report_changes(plan, run)
        if config.workflow_id:
            await self._trigger_workflow(plan, run)
            return
        prompt = await self._step(heartbeat_resolve_prompt, plan)
        run.prompt_source = prompt.source
        for note in prompt.notes:
            run.note(note)
        if not prompt.runnable:
            return  # nothing to follow: no LLM call
        if not plan.llm_available:
            run.note("checklist not executed: no LLM is configured")
            if not plan.no_llm_notice_sent:
                await self._send(no_llm_notice(target, prompt.source))
                run.no_llm_notice_sent = True
                run.posted = True
            return
        await self._agent(plan, prompt, changes, run)

    async def _report_changes(self, plan: HeartbeatPlan, run: _Run) -> ChangeSet:
        changes = await self._step(
            heartbeat_gather_changes,
            GatherRequest(
                target=plan.target,
                config=plan.config,
                since=plan.changes_since,
                topic_targets=plan.topic_targets,
            ),
        )
        if changes.changes:
            report = await workflow.execute_activity(
                heartbeat_report_changes,
                ReportRequest(target=plan.target, changes=changes.changes),
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=SEND_RETRY,
            )
            run.changes = len(report.reported)
            if report.reported:
                run.posted = True
                run.note(f"{len(report.reported)} job update(s) reported")
            if report.already:
                run.note(f"{len(report.already)} already told by the job itself")
            if report.held:
                # Someone is telling these right now; the next run looks again from the same
                # point, so a change whose teller dies is not passed over.
                run.note(f"{len(report.held)} being told by another sender right now")
                run.checked_until = plan.changes_since
                return changes
        if changes.deferred:
            run.note(f"{changes.deferred} change(s) left to the job's own push for now")
        # Stored with the run: only a run that got this far moves the watermark.
        run.checked_until = changes.checked_until
        return changes

    async def _agent(
        self, plan: HeartbeatPlan, prompt: PromptResolution, changes: ChangeSet, run: _Run
    ) -> None:
        preamble = preamble_for(plan, changes, workflow.now())
        run.repetition_alert = bool(plan.repetition_results)
        if run.repetition_alert:
            run.note("repetition alert given")
        agent = await self._run_agent(plan, prompt, preamble, run)
        if agent is None:
            return
        run.llm_calls, run.tokens, run.tool_calls = agent.llm_calls, agent.tokens, agent.tool_calls
        if agent.stop_reason != "done":
            run.note(f"agent stopped: {agent.stop_reason}")
        if agent.jobs_started:
            run.note(f"started {', '.join(agent.jobs_started)}")
        # What the agent was told must not be shown — except the job changes, which it may
        # rightly quote.
        changes_told = {f"- {change.line()}" for change in changes.changes}
        told = "\n".join(line for line in preamble.splitlines() if line not in changes_told)
        delivered = await self._dispatch(plan, agent, [prompt.text, told], run)
        if plan.config.trigger_response and delivered:
            job_id = await workflow.execute_activity(
                heartbeat_follow_up,
                FollowUpRequest(target=plan.target, result="\n\n".join(delivered)),
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            run.note(f"follow-up job {job_id}")

    async def _run_agent(
        self, plan: HeartbeatPlan, prompt: PromptResolution, preamble: str, run: _Run
    ) -> AgentResult | None:
        """The agent's activity; None when the LLM is out (not the heartbeat's failure: the
        run is skipped and the next one tries again)."""
        config, target = plan.config, plan.target
        try:
            return await workflow.execute_activity(
                heartbeat_run_agent,
                AgentRequest(
                    target=target,
                    config=config,
                    prompt=prompt.text,
                    preamble=preamble,
                    workspace_folder=target.workspace_folder,
                ),
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=config.max_run_seconds + 30),
                heartbeat_timeout=timedelta(seconds=min(config.max_run_seconds + 30, 120)),
                retry_policy=AGENT_RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == "LLMUnavailable":
                run.skipped = cause.message
                return None
            raise

    async def _dispatch(
        self, plan: HeartbeatPlan, agent: AgentResult, told: list[str], run: _Run
    ) -> list[str]:
        """Ack token and echoes stripped; `always` posts the result, `optional` only what the
        agent chose to post; `dispatch_results: false` stores without posting."""
        config = plan.config
        optional = config.dispatch_mode == "optional"
        final = strip_ack(scrub_echo(agent.text, *told), config.ack_token)
        run.result = final.text
        candidates = agent.posts if optional else [agent.text]
        delivered = []
        for text in candidates:
            cleaned = strip_ack(scrub_echo(text, *told), config.ack_token)
            if not cleaned.suppressed:
                delivered.append(cleaned.text)
        if optional and delivered:
            run.result = "\n\n".join(delivered)
        if not delivered:
            if optional and not final.suppressed:
                run.note("optional dispatch: the agent chose not to post")
            else:
                run.suppressed = True
                run.note(f"nothing to report ({config.ack_token})")
            return []
        if not config.dispatch_results:
            run.note("result stored, not posted (dispatch_results is off)")
            return delivered
        delivered = await self._without_duplicates(plan, first_of_each(delivered), run)
        for text in delivered:
            await self._send(result_message(plan.target, text))
        if delivered:
            run.posted = True
            run.delivered = delivered
        return delivered

    async def _without_duplicates(
        self, plan: HeartbeatPlan, texts: list[str], run: _Run
    ) -> list[str]:
        """An alert this target was already shown within the duplicate window is not posted
        again (it is recorded as a duplicate), unless a person asked for this run."""
        if plan.fired or not texts:
            return texts
        verdict = await self._step(
            heartbeat_find_duplicates,
            DuplicateCheck(target=plan.target, texts=texts),
        )
        earlier = [at for at in verdict.delivered_at if at is not None]
        if earlier:
            run.duplicates = len(earlier)
            run.note(
                f"{len(earlier)} result(s) not posted again: the same alert was posted here "
                f"at {max(earlier):%Y-%m-%d %H:%M} UTC, within {_hours(DUPLICATE_WINDOW)} h "
                "(/heartbeat fire posts it anyway)"
            )
        return [text for text, at in zip(texts, verdict.delivered_at, strict=True) if at is None]

    async def _trigger_workflow(self, plan: HeartbeatPlan, run: _Run) -> None:
        """Workflow-trigger mode: start the configured workflow as a child and wait for it.
        `shared` uses one fixed id, so Temporal's id uniqueness refuses a second one while one
        runs (on top of the schedule's SKIP); `isolated` gives each run a fresh id."""
        config, target = plan.config, plan.target
        run.prompt_source = f"workflow:{config.workflow_id}"
        if not plan.trigger_workflow_type:
            run.error = f"workflow {config.workflow_id!r} is not registered for heartbeats"
            return
        if config.workflow_session_mode == "shared":
            child_id = f"{target.schedule_id}-{config.workflow_id}"
        else:
            child_id = f"{workflow.info().workflow_id}-{config.workflow_id}"
        try:
            handle = await workflow.start_child_workflow(
                plan.trigger_workflow_type,
                HeartbeatTrigger(
                    target=target,
                    run_number=plan.run_number,
                    heartbeat_run_id=workflow.info().workflow_id,
                    interval_minutes=config.interval_minutes,
                    dispatch_results=config.dispatch_results,
                ),
                id=child_id,
                task_queue=plan.trigger_task_queue or OPERATOR_QUEUE,
                execution_timeout=timedelta(seconds=config.max_run_seconds),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            run.skipped = f"{config.workflow_id} is already running ({child_id})"
            return
        result: Any = await handle
        outcome = result.get("outcome") if isinstance(result, dict) else None
        if outcome == "posted":
            run.posted = True
        reason = result.get("reason", "") if isinstance(result, dict) else ""
        run.note(f"{config.workflow_id} ran as {child_id}" + (f": {reason}" if reason else ""))

    async def _send(self, message: ChatMessage) -> None:
        await calls.send(message, SEND_RETRY, give_up_after=timedelta(minutes=10))

    # --- the log -----------------------------------------------------------------------------
    async def _finish(self, plan: HeartbeatPlan, run: _Run) -> HeartbeatRunSummary:
        record = await self._step(
            heartbeat_record_run,
            RunRecord(
                **run.model_dump(include=set(RunFigures.model_fields)),
                target=run.target,
                workflow_id=workflow.info().workflow_id,
                started_at=run.started_at,
                finished_at=workflow.now(),
                outcome=run.outcome,
                reason=run.reason,
            ).model_copy(update={"checked_until": None if run.error else run.checked_until}),
        )
        reason = run.reason
        limit = plan.config.max_consecutive_failures
        if run.outcome == "failed" and record.consecutive_failures >= limit:
            await workflow.execute_activity(
                heartbeat_pause_schedule,
                PauseRequest(
                    target=run.target, failures=record.consecutive_failures, last_error=run.error
                ),
                task_queue=OPERATOR_QUEUE,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
            reason += f"; schedule paused after {record.consecutive_failures} failures"
        return HeartbeatRunSummary(outcome=run.outcome, reason=reason, run_number=record.run_number)
