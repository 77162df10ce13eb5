"""Jobs as the heartbeat sees them: read from Temporal (visibility, the job's `status` query,
its first history event), started through the operator's planner and job client.

Always scoped to one target's chat: a heartbeat never reads or starts another chat's jobs.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from temporalio.client import (
    Client,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.heartbeat.deps import HeartbeatDeps
from core.domain.heartbeat.models import FollowUpRequest
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.models import MAX_GOAL_CHARS, JobOrigin, JobSpec, JobState, NotifyPolicy
from core.domain.jobs.planner import PlanError, Planner
from core.domain.jobs.queries import chat_jobs_query, in_state, job_state
from core.domain.temporal_names import SA_JOB_STATUS, SA_REPORT_CHAT_ID
from core.io.jobs.client import (
    JobClient,
    JobNotFoundError,
    JobSpecUnreadable,
    no_job_in_chat,
    query_status,
    started_spec,
)

log = logging.getLogger(__name__)


def covers(target: HeartbeatTarget, job_topic: int | None, topic_targets: list[int]) -> bool:
    """A topic target covers its topic's jobs; a chat-level target covers the rest of the chat
    (jobs outside any topic, or in a topic without a heartbeat of its own)."""
    if target.topic_id is not None:
        return job_topic == target.topic_id
    return job_topic is None or job_topic not in topic_targets


async def spec_of(client: Client, job_id: str) -> JobSpec | None:
    """The spec the job was started with; None (logged) when the job is gone or its input is not
    a spec this version reads. Any other Temporal error raises: the calling activity is
    retried."""
    try:
        return await started_spec(client, job_id)
    except JobNotFoundError:
        log.info("job %s: no history in Temporal any more", job_id, extra={"job_id": job_id})
    except JobSpecUnreadable:
        log.warning(
            "job %s: its input is not a spec this version reads", job_id, extra={"job_id": job_id}
        )
    return None


async def notify_policy(client: Client, job_id: str, memo: dict[str, Any]) -> NotifyPolicy:
    """From the memo when it carries the policy, else from the job's spec. A policy that cannot
    be read counts as silent (logged): a job that asked for silence must never be pushed
    because its memo or spec could not be read."""
    raw = memo.get("notify")
    if raw is not None:
        try:
            return NotifyPolicy(raw)
        except ValueError:
            log.warning(
                "job %s: notify policy %r in its memo is unknown; reading its spec",
                job_id,
                raw,
                extra={"job_id": job_id},
            )
    spec = await spec_of(client, job_id)
    if spec is None:
        log.warning(
            "job %s: its notify policy cannot be read; the heartbeat tells nothing about it",
            job_id,
            extra={"job_id": job_id},
        )
        return NotifyPolicy.silent
    return spec.notify


async def list_chat_jobs(
    client: Client, target: HeartbeatTarget, state: str | None, limit: int, closed: str = ""
) -> list[dict[str, Any]]:
    """The chat's jobs, newest first; `closed`: a visibility clause on CloseTime."""
    clauses = [in_state(JobState(state)) if state else "", closed]
    extra = " AND ".join(clause for clause in clauses if clause)
    out: list[dict[str, Any]] = []
    async for wf in client.list_workflows(
        chat_jobs_query(target.chat_id, extra), limit=limit, page_size=min(limit, 100)
    ):
        memo = await wf.memo()
        out.append(
            {
                "job_id": wf.id,
                "state": job_state(wf.typed_search_attributes.get(SA_JOB_STATUS), wf.status),
                "goal": str(memo.get("goal", ""))[:200],
                "started_at": _iso(wf.start_time),
                "closed_at": _iso(wf.close_time),
            }
        )
    return out


async def job_detail(client: Client, target: HeartbeatTarget, job_id: str) -> dict[str, Any]:
    handle = client.get_workflow_handle(job_id)
    try:
        desc = await handle.describe()
    except RPCError as exc:
        # An id that names no job, or is not an id at all: the model's mistake to correct.
        # Anything else (Temporal not answering) is no answer about the job: it raises.
        if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise
        return {"error": str(no_job_in_chat(job_id))}
    if desc.typed_search_attributes.get(SA_REPORT_CHAT_ID) != target.chat_id:
        return {"error": str(no_job_in_chat(job_id))}
    status = await query_status(client, job_id)
    detail: dict[str, Any] = {
        "job_id": job_id,
        "state": job_state(desc.typed_search_attributes.get(SA_JOB_STATUS), desc.status),
        "started_at": _iso(desc.start_time),
        "closed_at": _iso(desc.close_time),
    }
    if status is not None:
        detail.update(
            goal=status.goal[:500],
            phase=status.phase,
            step=f"{status.step_index + 1}/{status.step_count}",
            worker=status.worker,
            progress=status.progress[-1000:],
            last_error=status.last_error[-1000:],
        )
    return detail


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


async def start_job_in_chat(
    deps: HeartbeatDeps,
    target: HeartbeatTarget,
    worker: str,
    text: str,
    written_by: JobOrigin = JobOrigin.heartbeat_agent,
) -> JobSpec:
    """Start a job for the target's chat; its card and result reach the chat by its own push.
    A model wrote `text`: a code-running job asks the chat for approval before it runs."""
    planner = Planner(deps.registry, deps.settings)
    origin: dict[str, Any] = {
        "chat_id": target.chat_id,
        "topic_id": target.topic_id,
        "origin": written_by,
    }
    if worker == "research":
        spec = planner.research_job(text, **origin)
    elif worker == "execution":
        spec = planner.exec_job(text, **origin)
    else:
        spec = planner.dispatch_job(worker, text, **origin)
    await JobClient(deps.client, deps.registry).start(spec)
    return spec


async def start_follow_up_job(deps: HeartbeatDeps, request: FollowUpRequest) -> str:
    goal = f"Follow up on this heartbeat result: {request.result.strip()}"
    try:
        spec = await start_job_in_chat(
            deps,
            request.target,
            "research",
            goal[:MAX_GOAL_CHARS],
            written_by=JobOrigin.trigger_response,
        )
        return spec.job_id
    except PlanError as exc:
        raise ApplicationError(str(exc), type="BadCommand", non_retryable=True) from None
