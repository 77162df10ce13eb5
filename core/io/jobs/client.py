"""The operator's view of jobs in Temporal: start, describe, list, cancel, retry, reroute.

Every answer comes from Temporal (visibility over search attributes, the workflow's `status`
query, pending-activity heartbeat details), never from chat memory.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.client import (
    WorkflowExecutionStatus as ExecStatus,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.domain.errors import Refusal
from core.domain.jobs.models import (
    ApprovalDecision,
    JobResult,
    JobSpec,
    JobState,
    JobStatus,
    MetadataUpdate,
    RerouteRequest,
    RetryRequest,
)
from core.domain.jobs.queries import CLOSED_AS, JOB_WORKFLOW, execution_word, job_state
from core.domain.registry import WorkerRegistry
from core.domain.temporal_names import (
    OPERATOR_QUEUE,
    SA_JOB_STATUS,
    SA_REPORT_CHAT_ID,
    SA_SCHEDULE_ID,
    SA_WORKER_NAME,
)
from core.io.temporal import not_found_as

log = logging.getLogger(__name__)


class JobNotFoundError(Refusal, LookupError):
    pass


def no_job_in_chat(job_id: str) -> JobNotFoundError:
    """The one answer for an id that names no job and for another chat's job, reached the same
    way (one describe call): job ids derive from chat and message ids, so two answers would
    tell anyone which ids exist in other chats."""
    return JobNotFoundError(f"no job {job_id} in this chat")


class JobSpecUnreadable(Refusal, ValueError):
    """A job started with an input this version cannot read as a JobSpec (another version)."""


class JobActionError(Refusal, ValueError):
    """A refused action (e.g. retry on a running job); the message is for the person."""


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    state: str
    worker: str
    goal: str
    chat_id: int | None
    started_at: datetime | None
    closed_at: datetime | None


def search_attributes_for(spec: JobSpec) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[Any]] = [
        # The job runs from its first moment; starting it so saves an upsert in every history.
        SearchAttributePair(SA_JOB_STATUS, JobState.running.value),
        SearchAttributePair(SA_WORKER_NAME, spec.main_step.worker),
        SearchAttributePair(SA_REPORT_CHAT_ID, spec.report_chat_id),
    ]
    if spec.schedule_id:
        pairs.append(SearchAttributePair(SA_SCHEDULE_ID, spec.schedule_id))
    return TypedSearchAttributes(pairs)


def job_memo(spec: JobSpec) -> dict[str, object]:
    return {
        "goal": spec.goal,
        "requested_by": spec.requested_by,
        "topic_id": spec.topic_id,
        "notify": spec.notify.value,
    }


class JobClient:
    def __init__(self, client: Client, registry: WorkerRegistry) -> None:
        self.client = client
        self.registry = registry

    async def start(self, spec: JobSpec) -> WorkflowHandle[Any, JobResult]:
        """Start the job. Its id is never reused (REJECT_DUPLICATE): a job with this id that
        runs or ran for the same chat is this request handled again (a chat message delivered
        twice) and counts as started; in another chat the id is someone else's, an error."""
        try:
            return await self.client.start_workflow(
                JOB_WORKFLOW,
                spec,
                result_type=JobResult,
                id=spec.job_id,
                task_queue=OPERATOR_QUEUE,
                search_attributes=search_attributes_for(spec),
                memo=job_memo(spec),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # The job's first workflow task comes back with the start's answer when this
                # client's process runs an operator worker with a free slot (`hbo up`, the
                # bot beside the workers): no trip through the server's task matching. Any
                # other process starts the job as before (the SDK asks only when it can take it).
                request_eager_start=True,
            )
        except WorkflowAlreadyStartedError:
            handle = self.client.get_workflow_handle(spec.job_id, result_type=JobResult)
            desc = await handle.describe()
            if desc.typed_search_attributes.get(SA_REPORT_CHAT_ID) != spec.report_chat_id:
                raise
            log.info(
                "job %s was already started; not started again",
                spec.job_id,
                extra={"job_id": spec.job_id},
            )
            return handle

    def handle(self, job_id: str) -> WorkflowHandle[object, object]:
        return self.client.get_workflow_handle(job_id)

    async def describe(self, job_id: str) -> WorkflowExecutionDescription:
        with not_found_as(JobNotFoundError(f"no job {job_id}")):
            return await self.handle(job_id).describe()

    async def status(
        self, job_id: str, desc: WorkflowExecutionDescription | None = None
    ) -> tuple[JobStatus, WorkflowExecutionDescription]:
        """Live status from the workflow's query, with the running step's heartbeat tail
        (`desc`: the job's description when the caller has just read it)."""
        desc = desc or await self.describe(job_id)
        status = await self.handle(job_id).query("status", result_type=JobStatus)
        if desc.status in CLOSED_AS and not status.state.is_final:
            status = status.model_copy(update={"state": CLOSED_AS[desc.status]})
        for pending in desc.raw_description.pending_activities:
            if pending.heartbeat_details.payloads:
                with contextlib.suppress(Exception):
                    details = await self.client.data_converter.decode(
                        pending.heartbeat_details.payloads
                    )
                    tail = details[0].get("tail", "") if isinstance(details[0], dict) else ""
                    if tail:
                        status = status.model_copy(update={"progress": tail})
            if pending.attempt > 1:
                status = status.model_copy(
                    update={"attempt": pending.attempt, "last_error": pending.last_failure.message}
                )
        return status, desc

    async def list(self, query: str, limit: int = 20) -> list[JobSummary]:
        return await list_jobs(self.client, query, limit)

    async def spec_of(self, job_id: str) -> JobSpec:
        """The spec a job was started with, e.g. to run it again (`started_spec`)."""
        return await started_spec(self.client, job_id)

    async def count(self, query: str) -> int:
        return (await self.client.count_workflows(query)).count

    async def cancel(self, job_id: str) -> None:
        desc = await self.describe(job_id)
        if desc.status != ExecStatus.RUNNING:
            raise JobActionError(f"{job_id} is not running (it {execution_word(desc.status)})")
        await self.handle(job_id).cancel()

    async def retry(self, job_id: str, user_id: int | None) -> str:
        return await self._update(job_id, "retry", RetryRequest(requested_by=user_id))

    async def reroute(self, job_id: str, worker: str, user_id: int | None) -> str:
        definition = self.registry.get(worker)
        request = RerouteRequest(
            worker=definition.name,
            task_queue=definition.task_queue,
            activity=definition.step_activity,
            requested_by=user_id,
        )
        return await self._update(job_id, "reroute", request)

    async def decide(self, job_id: str, approve: bool, decision: ApprovalDecision) -> str:
        """Approve or deny a job waiting for approval (a validated Update: a second decision,
        another chat or a job that is not waiting is refused with the reason)."""
        return await self._update(job_id, "approve" if approve else "deny", decision)

    async def update_metadata(
        self, job_id: str, metadata: dict[str, str], user_id: int | None
    ) -> str:
        result = await self._update(
            job_id, "update_metadata", MetadataUpdate(metadata=metadata, requested_by=user_id)
        )
        return str(result)

    async def _update(self, job_id: str, name: str, arg: object) -> str:
        desc = await self.describe(job_id)
        if desc.status != ExecStatus.RUNNING:
            raise JobActionError(
                f"{job_id} has ended ({execution_word(desc.status)}); nothing to {name}"
            )
        try:
            return str(await self.handle(job_id).execute_update(name, arg))
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise JobActionError(getattr(cause, "message", None) or str(cause)) from None
        except RPCError as exc:
            # The job closed between the check above and the update (a fast job's last moment).
            log.info("job %s: %s refused by the server: %s", job_id, name, exc.message)
            raise JobActionError(f"{job_id} has just ended; nothing to {name}") from None


async def started_spec(client: Client, job_id: str) -> JobSpec:
    """The spec a job was started with (its first history event). JobNotFoundError when
    Temporal has no such job; JobSpecUnreadable when its input is not a spec this version
    reads; any other Temporal error raises as it is."""
    with not_found_as(JobNotFoundError(f"no job {job_id}")):
        async for event in client.get_workflow_handle(job_id).fetch_history_events(page_size=1):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            break
        else:
            raise JobNotFoundError(f"no job {job_id}")
    try:
        values = await client.data_converter.decode(payloads, [JobSpec])
        return values[0]  # type: ignore[no-any-return]
    # The converter's own errors: a spec that does not validate (ValueError), an unknown
    # encoding (KeyError), a payload it cannot convert (RuntimeError), no payload at all.
    except (ValueError, KeyError, RuntimeError, IndexError) as exc:
        raise JobSpecUnreadable(
            f"{job_id} was started by another version; its request cannot be read here"
        ) from exc


async def query_status(client: Client, job_id: str) -> JobStatus | None:
    """The job's `status` query; None (logged) when it cannot answer — gone, an old or broken
    job, a status this version cannot read: its visibility record is all there is then."""
    try:
        return await client.get_workflow_handle(job_id).query("status", result_type=JobStatus)
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError, ValueError) as exc:
        log.info(
            "job %s: status query not answered (%s)",
            job_id,
            type(exc).__name__,
            extra={"job_id": job_id},
        )
        return None


async def list_jobs(client: Client, query: str, limit: int = 20) -> list[JobSummary]:
    """The newest jobs matching a visibility query, with their state, worker and goal."""
    out: list[JobSummary] = []
    async for wf in client.list_workflows(query, limit=limit, page_size=min(limit, 1000)):
        sa = wf.typed_search_attributes
        memo = await wf.memo()
        out.append(
            JobSummary(
                job_id=wf.id,
                state=job_state(sa.get(SA_JOB_STATUS), wf.status),
                worker=sa.get(SA_WORKER_NAME) or "",
                goal=str(memo.get("goal", "")),
                chat_id=sa.get(SA_REPORT_CHAT_ID),
                started_at=wf.start_time,
                closed_at=wf.close_time,
            )
        )
    return out
