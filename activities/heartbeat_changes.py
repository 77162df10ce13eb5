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
from temporalio.client import Client, WorkflowExecutionStatus

from core.heartbeat_messages import changes_digest
from core.heartbeat_models import ChangeSet, GatherRequest, JobChange, ReportRequest, ReportResult
from core.jobs import JobResult, JobState, NotifyPolicy
from core.store import ReportLedgerStore
from core.temporal import SA_JOB_STATUS

from .heartbeat import HeartbeatDeps
from .heartbeat_jobs import chat_jobs_query, covers, job_state, notify_policy, query_status

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


def _iso_z(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        query = chat_jobs_query(
            target.chat_id, f"ExecutionStatus = 'Running' OR CloseTime > '{_iso_z(since)}'"
        )
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
            base = last.split(":", 1)[0] if last else None
            resumed = job.state == JobState.running.value and last is not None
            if base != job.state and not resumed:
                change, defer = await self._state_change(job, now, grace)
                if defer:
                    deferred.append(job.close_time or now)
                elif change is not None:
                    changes.append(change)
            elif (
                job.running
                and job.state == JobState.running.value
                and last != job.state + STALE_SUFFIX
            ):
                stale = await self._stale(job, now, stale_after)
                if stale is not None:
                    changes.append(stale)
            elif job.state == JobState.needs_attention.value and last == job.state:
                stuck = await self._stuck(job, now, stale_after)
                if stuck is not None:
                    changes.append(stuck)
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
        detail = ""
        if state.is_final:
            if job.running:
                return None, True  # the job is still delivering its own result
            reference = job.close_time or now
            detail = await self._result_detail(job.job_id, state)
        elif state is JobState.needs_attention:
            status = await query_status(self.client, job.job_id)
            reference = status.updated_at if status and status.updated_at else now
            detail = status.last_error[-300:] if status else ""
        else:
            reference = job.start_time or now
        if now - reference < grace:
            return None, True  # the job's own push gets the first chance
        change = JobChange(
            job_id=job.job_id,
            state=state.value,
            ledger_status=state.value,
            goal=job.goal,
            detail=detail,
        )
        return change, False

    async def _result_detail(self, job_id: str, state: JobState) -> str:
        try:
            handle = self.client.get_workflow_handle(job_id, result_type=JobResult)
            result = await handle.result()
        except Exception:
            return ""
        if state is JobState.completed:
            summary = next((o.summary for o in reversed(result.outputs) if o.summary), "")
            return summary[:300]
        return (result.last_error or result.message)[-300:]

    async def _stale(self, job: _Job, now: datetime, stale_after: timedelta) -> JobChange | None:
        try:
            desc = await self.client.get_workflow_handle(job.job_id).describe()
        except Exception:
            return None
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

    async def _stuck(self, job: _Job, now: datetime, stale_after: timedelta) -> JobChange | None:
        status = await query_status(self.client, job.job_id)
        if status is None or status.updated_at is None or now - status.updated_at <= stale_after:
            return None
        if await notify_policy(self.client, job.job_id, job.memo) is NotifyPolicy.silent:
            return None
        return JobChange(
            job_id=job.job_id,
            state=job.state,
            ledger_status=job.state + STUCK_SUFFIX,
            kind="stuck",
            goal=job.goal,
            detail=f"waiting {_minutes(now - status.updated_at)}",
        )

    @activity.defn(name="heartbeat.report_changes")
    async def report_changes(self, request: ReportRequest) -> ReportResult:
        """Claim each change in the ledger, send the claimed ones as one digest to the target's
        chat, confirm; on a failed send release the claims so a retry (or the push) tells it."""
        target = request.target
        claimed: list[JobChange] = []
        already: list[str] = []
        for change in request.changes:
            if await self.ledger.claim(change.job_id, target.chat_id, change.ledger_status):
                claimed.append(change)
            else:
                already.append(change.job_id)
        if not claimed:
            return ReportResult(already=already)
        details = activity.info().heartbeat_details
        skip = int(details[0]) if details else 0
        try:
            ids = await self.deps.sender.send(
                changes_digest(target, claimed), skip_chunks=skip, on_sent=activity.heartbeat
            )
        except BaseException:
            for change in claimed:
                await self.ledger.release(change.job_id, change.ledger_status)
            raise
        for change in claimed:
            await self.ledger.confirm(change.job_id, change.ledger_status)
        return ReportResult(reported=[c.job_id for c in claimed], already=already, message_ids=ids)
