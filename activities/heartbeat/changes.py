"""Job changes for a heartbeat: what changed since it was last told, and telling it once.

Gather (`heartbeat.gather_changes`): one visibility query for the target's chat — the jobs still
running plus those closed since the last check (so the work grows with what changed, not with
the chat's history) — compared with each job's `last_reported_status` in the report ledger.
A change the job's own push should tell first (within the push grace) is left to it; running
jobs with no progress for `stale_after_minutes` and decisions left waiting as long are flagged.

Report (`heartbeat.report_changes`): the ledger's compare-and-set shared with the job's push
(claim → send one digest → confirm; release on failure), so neither repeats the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from activities.heartbeat.deps import HeartbeatDeps
from activities.heartbeat.jobs import covers, notify_policy
from activities.notify import activity_owner, temporal_errors
from activities.telegram.resume import delivered_in_activity, send_resuming
from core.domain.heartbeat.messages import changes_digest
from core.domain.heartbeat.models import (
    ChangeSet,
    GatherRequest,
    JobChange,
    ReportRequest,
    ReportResult,
)
from core.domain.jobs.models import (
    JobResult,
    JobState,
    JobStatus,
    NotifyPolicy,
    ledger_status,
    parse_ledger_status,
)
from core.domain.jobs.queries import RUNNING, chat_jobs_query, closed_after, job_state
from core.domain.temporal_names import SA_JOB_STATUS
from core.io.jobs.client import query_status
from core.io.ledger import ClaimOutcome, ReportLedgerStore
from core.io.temporal import TemporalNotFound, not_found_as

FIRST_LOOKBACK = timedelta(days=7)  # a target's first run looks this far back for closed jobs
# Visibility is eventually consistent (milliseconds on the dev server, about a second on
# Elasticsearch): re-read a margin before the last check so no late record is missed.
VISIBILITY_MARGIN = timedelta(minutes=1)
STALE_SUFFIX = ":stale"
STUCK_SUFFIX = ":stuck"


@dataclass
class _Job:
    job_id: str
    state: str
    memo: dict[str, Any]
    status: WorkflowExecutionStatus | None
    start_time: datetime | None
    close_time: datetime | None

    @property
    def running(self) -> bool:
        return self.status == WorkflowExecutionStatus.RUNNING

    @property
    def goal(self) -> str:
        return str(self.memo.get("goal", ""))


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


class ChangeActivities:
    def __init__(self, deps: HeartbeatDeps) -> None:
        self.deps = deps
        self.client: Client = deps.client
        self.ledger = ReportLedgerStore(deps.db)

    @activity.defn(name="heartbeat.gather_changes")
    async def gather_changes(self, request: GatherRequest) -> ChangeSet:
        now = self.deps.clock()
        target, config = request.target, request.config
        since = (request.since or now - FIRST_LOOKBACK) - VISIBILITY_MARGIN
        query = chat_jobs_query(target.chat_id, f"{RUNNING} OR {closed_after(since)}")
        jobs: list[_Job] = []
        async for wf in self.client.list_workflows(query, page_size=1000):
            memo = await wf.memo()
            topic = memo.get("topic_id")
            if not covers(target, topic if isinstance(topic, int) else None, request.topic_targets):
                continue
            jobs.append(
                _Job(
                    job_id=wf.id,
                    state=job_state(wf.typed_search_attributes.get(SA_JOB_STATUS), wf.status),
                    memo=dict(memo),
                    status=wf.status,
                    start_time=wf.start_time,
                    close_time=wf.close_time,
                )
            )
        reported = await self.ledger.last_reported([job.job_id for job in jobs])
        grace = timedelta(seconds=config.push_grace_seconds)
        stale_after = timedelta(minutes=config.stale_after_minutes)
        changes: list[JobChange] = []
        deferred: list[datetime] = []
        for job in jobs:
            # A job running again after a retry the person asked for is nothing new to say;
            # only whether it makes progress is.
            last = reported.get(job.job_id)
            base, episode, _ = parse_ledger_status(last) if last else (None, 0, "")
            resumed = job.state == JobState.running.value and last is not None
            change: JobChange | None = None
            if base == job.state == JobState.needs_attention.value:
                # Told before; a failure after a retry is a new episode, told once of its own.
                change = await self._attention_again(job, last, episode, now, grace, stale_after)
            elif base != job.state and not resumed:
                change, defer = await self._state_change(job, now, grace)
                if defer:
                    deferred.append(job.close_time or now)
            elif (
                job.running
                and job.state == JobState.running.value
                and last != job.state + STALE_SUFFIX
            ):
                change = await self._stale(job, now, stale_after)
            if change is not None:
                changes.append(change.model_copy(update={"told_before": last}))
        # The next run re-reads from the oldest change left to the push, never past it.
        checked_until = min([now, *(d for d in deferred)])
        return ChangeSet(
            changes=changes, checked_until=checked_until, deferred=len(deferred), examined=len(jobs)
        )

    async def _state_change(
        self, job: _Job, now: datetime, grace: timedelta
    ) -> tuple[JobChange | None, bool]:
        try:
            state = JobState(job.state)
        except ValueError:
            return None, False
        if state is JobState.awaiting_approval:
            # Not a result: the job asks its chat itself (Approve / Deny) and waits.
            return None, False
        policy = await notify_policy(self.client, job.job_id, job.memo)
        if not policy.wants(state):
            return None, False
        detail, told_as, message = "", state.value, None
        if state.is_final:
            if job.running:
                return None, True  # the job is still delivering its own result
            reference = job.close_time or now
            result = await self._result(job.job_id)
            if result is not None:
                detail = _result_detail(result, state)
                told_as = result.final_status or told_as
                message = result.final_message
        elif state is JobState.needs_attention:
            status = await query_status(self.client, job.job_id)
            reference = status.updated_at if status and status.updated_at else now
            detail = status.last_error[-300:] if status else ""
            told_as = ledger_status(state, status.episode if status else 1)
        else:
            reference = job.start_time or now
        if now - reference < grace:
            return None, True  # the job's own push gets the first chance
        change = JobChange(
            job_id=job.job_id,
            state=state.value,
            ledger_status=told_as,
            goal=job.goal,
            detail=detail,
            message=message,
        )
        return change, False

    async def _result(self, job_id: str) -> JobResult | None:
        """The job's result; None (logged) when it has none to read: it failed, was cancelled
        or terminated, is gone, or returned a result this version cannot read. Any other
        Temporal error raises (the activity is retried)."""
        try:
            with not_found_as():
                handle = self.client.get_workflow_handle(job_id, result_type=JobResult)
                return await handle.result()
        except TemporalNotFound:
            reason = "gone from Temporal"
        except WorkflowFailureError as exc:  # cancelled or terminated jobs have no result
            reason = type(exc.cause).__name__
        except ValueError as exc:  # a result that does not validate as a JobResult
            reason = f"unreadable result ({type(exc).__name__})"
        activity.logger.info(
            "job %s: no result to report (%s)", job_id, reason, extra={"job_id": job_id}
        )
        return None

    async def _attention_again(
        self,
        job: _Job,
        told: str | None,
        told_episode: int,
        now: datetime,
        grace: timedelta,
        stale_after: timedelta,
    ) -> JobChange | None:
        """A job that needs attention and was told so: a later episode (it failed again after
        a retry) is a new change; the same one left waiting is a reminder (stuck)."""
        status = await query_status(self.client, job.job_id)
        if status is None or status.updated_at is None:
            return None
        if status.episode > told_episode:
            if now - status.updated_at < grace:
                return None  # the job's own push gets the first chance
            if not (await notify_policy(self.client, job.job_id, job.memo)).wants(
                JobState.needs_attention
            ):
                return None
            return JobChange(
                job_id=job.job_id,
                state=job.state,
                ledger_status=ledger_status(JobState.needs_attention, status.episode),
                goal=job.goal,
                detail=status.last_error[-300:],
            )
        return await self._stuck(job, told, status, now, stale_after)

    async def _stale(self, job: _Job, now: datetime, stale_after: timedelta) -> JobChange | None:
        try:
            with not_found_as():
                desc = await self.client.get_workflow_handle(job.job_id).describe()
        except TemporalNotFound:
            return None  # gone since the visibility query: nothing to flag
        pending = list(desc.raw_description.pending_activities)
        if not pending:
            return None  # between steps: moving
        latest: datetime | None = None
        for info in pending:
            for name in ("last_heartbeat_time", "last_started_time", "scheduled_time"):
                if info.HasField(name):
                    when = getattr(info, name).ToDatetime().replace(tzinfo=UTC)
                    latest = when if latest is None else max(latest, when)
        if latest is None or now - latest <= stale_after:
            return None
        if await notify_policy(self.client, job.job_id, job.memo) is NotifyPolicy.silent:
            return None
        step = pending[0]
        return JobChange(
            job_id=job.job_id,
            state=job.state,
            ledger_status=job.state + STALE_SUFFIX,
            kind="stale",
            goal=job.goal,
            detail=f"no progress for {_minutes(now - latest)} "
            f"(step {step.activity_type.name}, attempt {step.attempt})",
        )

    async def _stuck(
        self, job: _Job, told: str | None, status: JobStatus, now: datetime, stale_after: timedelta
    ) -> JobChange | None:
        stuck_as = ledger_status(JobState.needs_attention, status.episode) + STUCK_SUFFIX
        if status.updated_at is None or now - status.updated_at <= stale_after:
            return None
        if told == stuck_as:  # the reminder was given already
            return None
        if await notify_policy(self.client, job.job_id, job.memo) is NotifyPolicy.silent:
            return None
        return JobChange(
            job_id=job.job_id,
            state=job.state,
            ledger_status=stuck_as,
            kind="stuck",
            goal=job.goal,
            detail=f"waiting {_minutes(now - status.updated_at)}",
        )

    @activity.defn(name="heartbeat.report_changes")
    async def report_changes(self, request: ReportRequest) -> ReportResult:
        """Claim each change in the ledger (owner: this activity, whatever its attempt). A
        finished job's result goes out as the job's own message; the other changes as one
        digest to the target's chat; each is confirmed once sent. A failed send releases its
        claims so a retry (or the push) tells it; a change someone else is telling right now,
        or one the ledger has moved past since it was found (this is a late retry: the push
        told more meanwhile), is left for the next run to look at again."""
        target, owner = request.target, activity_owner()
        result = ReportResult()
        claimed: list[JobChange] = []
        for change in request.changes:
            claim = await self.ledger.claim(
                change.job_id,
                target.chat_id,
                change.ledger_status,
                owner,
                told_before=change.told_before,
            )
            if claim.outcome is ClaimOutcome.reported:
                result.already.append(change.job_id)
            elif claim.outcome is ClaimOutcome.held:
                result.held.append(change.job_id)
            else:
                claimed.append(change)
        try:
            with temporal_errors():
                for change in [c for c in claimed if c.message is not None]:
                    assert change.message is not None
                    result.message_ids += await self.deps.sender.send(change.message)
                    await self.ledger.confirm(change.job_id, change.ledger_status, owner)
                    result.reported.append(change.job_id)
                digest = [c for c in claimed if c.message is None]
                if digest:
                    result.message_ids += await send_resuming(
                        self.deps.sender, changes_digest(target, digest), delivered_in_activity()
                    )
                    for change in digest:
                        await self.ledger.confirm(change.job_id, change.ledger_status, owner)
                        result.reported.append(change.job_id)
        except BaseException:
            for change in claimed:
                if change.job_id not in result.reported:
                    await self.ledger.release(change.job_id, owner)
            raise
        return result


def _result_detail(result: JobResult, state: JobState) -> str:
    if state is JobState.completed:
        warning = next((o.warning for o in result.outputs if o.warning), "")
        if warning:  # completed, but not as asked: that is the news
            return f"⚠️ with a warning: {warning}"[:300]
        return next((o.summary for o in reversed(result.outputs) if o.summary), "")[:300]
    return (result.last_error or result.message)[-300:]
