"""A job's timeline read from its Temporal history (and, for the result told, the report
ledger): no second log of what a job did. Rendered by `core/domain/jobs/timeline.py`.

What the history holds: the job's start; each step's activity scheduled, then (once it ends)
the last attempt's start — its number, the worker's identity, the failure of the attempt
before — and its outcome; the search-attribute upserts of every state change; the people's
Updates (approve, deny, retry, reroute) with their input; a cancel request; the close. A step
that runs now is in the workflow's pending activities, not yet in the history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType, PendingActivityState, TimeoutType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client

from core.domain.jobs.timeline import (
    Accepted,
    Decided,
    Delivery,
    StateChanged,
    StepOutcome,
    StepRun,
    Timeline,
    TimelineEvent,
    Told,
)
from core.domain.temporal_names import SA_JOB_STATUS
from core.io.jobs.client import JobNotFoundError
from core.io.ledger import ReportLedgerStore
from core.io.temporal import not_found_as

log = logging.getLogger(__name__)

DECISION_UPDATES = ("approve", "deny", "retry", "reroute", "update_metadata")


def job_ui_url(ui_address: str | None, namespace: str, job_id: str) -> str | None:
    """The job's page in the Temporal Web UI; None when the UI's address is not known."""
    if not ui_address:
        return None
    return f"{ui_address}/namespaces/{quote(namespace, safe='')}/workflows/{quote(job_id, safe='')}"


async def read_timeline(
    client: Client,
    job_id: str,
    *,
    ledger: ReportLedgerStore | None = None,
    pending: Sequence[PendingActivityInfo] = (),
    ui_address: str | None = None,
) -> Timeline:
    """The job's timeline. `pending`: the running workflow's pending activities (from its
    describe), for the attempt that runs now."""
    with not_found_as(JobNotFoundError(f"no job {job_id}")):
        events = [e async for e in client.get_workflow_handle(job_id).fetch_history_events()]
    if not events:
        raise JobNotFoundError(f"no job {job_id}")
    reader = _HistoryReader(client, events[0].event_time.ToDatetime())
    for event in events:
        await reader.read(event)
    reader.add_pending(pending)
    if ledger is not None:
        entry = await ledger.entry(job_id)
        if entry is not None and entry.last_reported_status and entry.reported_at is not None:
            reader.told(entry.last_reported_status, entry.reported_at)
    return Timeline(
        job_id=job_id,
        events=reader.timeline,
        ui_url=job_ui_url(ui_address, client.namespace, job_id),
    )


def _is_lost(failure: Failure) -> bool:
    return (
        failure.HasField("timeout_failure_info")
        and failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
    )


def _failure_text(failure: Failure) -> str:
    """The failure's message, with its cause's (an ActivityError wraps the worker's error)."""
    parts = [failure.message]
    cause = failure.cause if failure.HasField("cause") else None
    while cause is not None and len(parts) < 3:
        if cause.message and cause.message not in parts:
            parts.append(cause.message)
        cause = cause.cause if cause.HasField("cause") else None
    return ": ".join(p for p in parts if p)


class _HistoryReader:
    def __init__(self, client: Client, start: datetime) -> None:
        self.client = client
        self.start = start
        self.timeline: list[TimelineEvent] = []
        self.state: str | None = None
        self.steps: dict[int, StepRun] = {}  # by the scheduled event's id
        self.by_activity_id: dict[str, StepRun] = {}
        self.notify: dict[int, tuple[float, str]] = {}  # scheduled id -> (at, activity id)
        self.attempts: dict[int, tuple[int, str]] = {}  # scheduled id -> (attempt, prior error)

    def at(self, event: HistoryEvent) -> float:
        return (event.event_time.ToDatetime() - self.start).total_seconds()

    async def _decode(self, payloads: Payloads) -> Any:
        if not payloads.payloads:
            return None
        try:
            return (await self.client.data_converter.decode(payloads.payloads))[0]
        except Exception:  # an input this version cannot read: the event is still shown
            log.info("a history payload could not be decoded", exc_info=True)
            return None

    async def read(self, event: HistoryEvent) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            self.timeline.append(Accepted(at=0.0))
            fields = event.workflow_execution_started_event_attributes.search_attributes
            await self._state(fields.indexed_fields, self.at(event), initial=True)
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            await self._state(fields.indexed_fields, self.at(event))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            await self._scheduled(event)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            self._started(event)
        elif kind in _ACTIVITY_CLOSED:
            self._closed(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            await self._update(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            self.timeline.append(Decided(at=self.at(event), action="cancel"))
        elif kind in _WORKFLOW_CLOSED:
            await self._workflow_closed(event)

    async def _state(self, fields: Any, at: float, *, initial: bool = False) -> None:
        if SA_JOB_STATUS.name not in fields:
            return
        value = await self._decode(Payloads(payloads=[fields[SA_JOB_STATUS.name]]))
        if isinstance(value, list):  # a keyword list is decoded as one
            value = value[0] if value else None
        if not isinstance(value, str) or value == self.state:
            return
        if not initial:  # the state a job starts in is its "accepted"
            self.timeline.append(StateChanged(at=at, state=value))
        self.state = value

    async def _scheduled(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_scheduled_event_attributes
        name = attrs.activity_type.name
        if name.startswith("notify."):
            self.notify[event.event_id] = (self.at(event), attrs.activity_id)
            return
        value = await self._decode(attrs.input)
        if not isinstance(value, dict) or "step_index" not in value:
            return  # audit records and other bookkeeping: not part of the story
        heartbeat = attrs.heartbeat_timeout.ToTimedelta().total_seconds()
        run = StepRun(
            at=self.at(event),
            step_index=int(value["step_index"]),
            worker=str(value.get("worker") or attrs.task_queue.name),
            heartbeat_timeout=heartbeat or None,
        )
        self.steps[event.event_id] = run
        self.by_activity_id[attrs.activity_id] = run
        self.timeline.append(run)

    def _started(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_started_event_attributes
        prior = attrs.last_failure if attrs.HasField("last_failure") else None
        run = self.steps.get(attrs.scheduled_event_id)
        if run is None:
            self.attempts[attrs.scheduled_event_id] = (
                attrs.attempt,
                _failure_text(prior) if prior else "",
            )
            return
        run.attempt = attrs.attempt
        run.identity = attrs.identity
        run.started_at = self.at(event)
        run.outcome = StepOutcome.running
        if prior is not None:
            run.previous_error = _failure_text(prior)
            run.previous_lost = _is_lost(prior)

    def _closed(self, event: HistoryEvent) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
            failure: Failure | None = None
            outcome = StepOutcome.completed
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            scheduled = event.activity_task_failed_event_attributes.scheduled_event_id
            failure = event.activity_task_failed_event_attributes.failure
            outcome = StepOutcome.failed
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            scheduled = event.activity_task_timed_out_event_attributes.scheduled_event_id
            failure = event.activity_task_timed_out_event_attributes.failure
            outcome = StepOutcome.timed_out
        else:
            scheduled = event.activity_task_canceled_event_attributes.scheduled_event_id
            failure, outcome = None, StepOutcome.cancelled
        run = self.steps.get(scheduled)
        if run is not None:
            run.outcome = outcome
            run.ended_at = self.at(event)
            if failure is not None:
                run.error = _failure_text(failure)
                run.lost = _is_lost(failure)
            return
        if scheduled in self.notify:
            # A chat message is news here only when it needed retries or was not delivered.
            at, _ = self.notify[scheduled]
            attempt, prior = self.attempts.get(scheduled, (1, ""))
            delivered = outcome is StepOutcome.completed
            if attempt > 1 or not delivered:
                error = prior if delivered else _failure_text(failure) if failure else "cancelled"
                self.timeline.append(
                    Delivery(at=at, attempts=attempt, delivered=delivered, error=error)
                )

    async def _update(self, event: HistoryEvent) -> None:
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        name = request.input.name
        if name not in DECISION_UPDATES:
            return
        value = await self._decode(request.input.args)
        arg = value if isinstance(value, dict) else {}
        user = arg.get("user_id", arg.get("requested_by"))
        self.timeline.append(
            Decided(
                at=self.at(event),
                action=name,
                user_id=user if isinstance(user, int) else None,
                console=bool(arg.get("console")),
                worker=str(arg.get("worker") or ""),
            )
        )

    async def _workflow_closed(self, event: HistoryEvent) -> None:
        """The close, when its state is not the last one the job upserted (a job ended from
        outside: terminated, timed out, or failed in its own code)."""
        kind = event.event_type
        state, detail = _CLOSED_STATE[kind], ""
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            result = await self._decode(event.workflow_execution_completed_event_attributes.result)
            if isinstance(result, dict) and isinstance(result.get("state"), str):
                state = result["state"]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            detail = _failure_text(event.workflow_execution_failed_event_attributes.failure)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            detail = event.workflow_execution_terminated_event_attributes.reason
        if state != self.state:
            self.timeline.append(StateChanged(at=self.at(event), state=state, detail=detail))
            self.state = state

    def add_pending(self, pending: Sequence[PendingActivityInfo]) -> None:
        """The attempt that runs (or waits for a worker) now; a lost worker's identity is
        known here until another worker takes the step."""
        for info in pending:
            run = self.by_activity_id.get(info.activity_id)
            if run is None or run.ended_at is not None:
                continue
            run.attempt = max(info.attempt, 1)
            prior = info.last_failure if info.HasField("last_failure") else None
            if prior is not None and run.attempt > 1:
                run.previous_error = _failure_text(prior)
                run.previous_lost = _is_lost(prior)
            if info.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
                run.outcome = StepOutcome.running
                run.identity = info.last_worker_identity
                run.started_at = (info.last_started_time.ToDatetime() - self.start).total_seconds()
            else:
                run.outcome = StepOutcome.waiting
                if info.HasField("last_attempt_complete_time"):
                    ended = info.last_attempt_complete_time.ToDatetime()
                    run.waiting_since = (ended - self.start).total_seconds()
                if run.previous_lost:
                    run.lost_identity = info.last_worker_identity

    def told(self, status: str, reported_at: datetime) -> None:
        at = (reported_at.astimezone(UTC).replace(tzinfo=None) - self.start).total_seconds()
        self.timeline.append(Told(at=max(at, 0.0), status=status))


_ACTIVITY_CLOSED = (
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
)
_CLOSED_STATE = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued_as_new",
}
_WORKFLOW_CLOSED = tuple(_CLOSED_STATE)
