"""Every activity a workflow calls, declared once: its name and its typed signature.

A workflow calls an activity by passing one of these functions to `workflow.execute_activity`
(or `execute_local_activity`); Temporal takes the name from the function's `activity.defn`, and
mypy checks the argument and the result against its signature. The implementation in
`activities/` registers a method under the same name with the same signature — a test
(tests/workflows/test_activity_stubs.py) holds the two together and checks that each activity a
workflow sends to a task queue is registered on that queue's worker. Workflows and activities
thus depend on this module, never on each other.

The bodies never run: a worker registers the implementation, not the stub. The names are part
of every recorded history and stay as they are.

A job's steps are the exception: which step activity runs (`execution.run`, `research.gather`,
`reporting.summarize`, a plugin's) is chosen at run time from the worker registry, so a step is
called by the name its worker definition gives (each takes a `StepInput`, returns a
`StepOutput`).
"""

from __future__ import annotations

from temporalio import activity

from core.domain.heartbeat.models import (
    AgentRequest,
    AgentResult,
    ChangeSet,
    DuplicateCheck,
    DuplicateVerdict,
    FollowUpRequest,
    GatherRequest,
    HeartbeatPlan,
    HeartbeatTrigger,
    PauseRequest,
    RecordResult,
    ReportRequest,
    ReportResult,
    RunRecord,
    ValidationResult,
)
from core.domain.heartbeat.prompt import PromptResolution
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.cards import LiveCard
from core.domain.jobs.models import AuditEvent, ScheduleSettlement, SummaryRequest
from core.domain.messages import (
    CardEdit,
    ChatMessage,
    JobNotification,
    NotifyResult,
    PhotoMessage,
    SummaryNote,
)
from core.domain.stats import StatsChart, StatsRequest


class StubCalled(NotImplementedError):
    """A stub ran: the worker registered the declaration instead of its implementation."""


def _stub(name: str) -> StubCalled:
    return StubCalled(f"{name} is a declaration; register its implementation from activities/")


# --- notify queue: messages to chats -------------------------------------------------------
@activity.defn(name="notify.send")
async def notify_send(message: ChatMessage) -> NotifyResult:
    raise _stub("notify.send")


@activity.defn(name="notify.send_photo")
async def notify_send_photo(message: PhotoMessage) -> NotifyResult:
    raise _stub("notify.send_photo")


@activity.defn(name="notify.edit_card")
async def notify_edit_card(edit: CardEdit) -> NotifyResult:
    raise _stub("notify.edit_card")


@activity.defn(name="notify.live_card")
async def notify_live_card(card: LiveCard) -> int:
    raise _stub("notify.live_card")


@activity.defn(name="notify.job_update")
async def notify_job_update(note: JobNotification) -> NotifyResult:
    raise _stub("notify.job_update")


@activity.defn(name="notify.add_summary")
async def notify_add_summary(note: SummaryNote) -> NotifyResult:
    raise _stub("notify.add_summary")


# --- operator queue: audit, schedules ------------------------------------------------------
@activity.defn(name="audit.job_event")
async def audit_job_event(event: AuditEvent) -> None:
    raise _stub("audit.job_event")


@activity.defn(name="schedules.settle_approval")
async def settle_schedule_approval(settlement: ScheduleSettlement) -> None:
    raise _stub("schedules.settle_approval")


# --- reporting queue -------------------------------------------------------------------------
@activity.defn(name="reporting.render_stats")
async def render_stats(request: StatsRequest) -> StatsChart:
    raise _stub("reporting.render_stats")


@activity.defn(name="reporting.model_summary")
async def model_summary(request: SummaryRequest) -> str:
    raise _stub("reporting.model_summary")


# --- operator queue: heartbeats ------------------------------------------------------------
@activity.defn(name="heartbeat.prepare")
async def heartbeat_prepare(target: HeartbeatTarget) -> HeartbeatPlan:
    raise _stub("heartbeat.prepare")


@activity.defn(name="heartbeat.validate_chat")
async def heartbeat_validate_chat(target: HeartbeatTarget) -> ValidationResult:
    raise _stub("heartbeat.validate_chat")


@activity.defn(name="heartbeat.resolve_prompt")
async def heartbeat_resolve_prompt(plan: HeartbeatPlan) -> PromptResolution:
    raise _stub("heartbeat.resolve_prompt")


@activity.defn(name="heartbeat.gather_changes")
async def heartbeat_gather_changes(request: GatherRequest) -> ChangeSet:
    raise _stub("heartbeat.gather_changes")


@activity.defn(name="heartbeat.report_changes")
async def heartbeat_report_changes(request: ReportRequest) -> ReportResult:
    raise _stub("heartbeat.report_changes")


@activity.defn(name="heartbeat.run_agent")
async def heartbeat_run_agent(request: AgentRequest) -> AgentResult:
    raise _stub("heartbeat.run_agent")


@activity.defn(name="heartbeat.follow_up")
async def heartbeat_follow_up(request: FollowUpRequest) -> str:
    raise _stub("heartbeat.follow_up")


@activity.defn(name="heartbeat.find_duplicates")
async def heartbeat_find_duplicates(check: DuplicateCheck) -> DuplicateVerdict:
    raise _stub("heartbeat.find_duplicates")


@activity.defn(name="heartbeat.record_run")
async def heartbeat_record_run(record: RunRecord) -> RecordResult:
    raise _stub("heartbeat.record_run")


@activity.defn(name="heartbeat.pause_schedule")
async def heartbeat_pause_schedule(request: PauseRequest) -> bool:
    raise _stub("heartbeat.pause_schedule")


@activity.defn(name="heartbeat.job_digest")
async def heartbeat_job_digest(trigger: HeartbeatTrigger) -> str:
    raise _stub("heartbeat.job_digest")


# Every stub, for the test that holds declarations, implementations and queues together.
ALL = (
    notify_send,
    notify_send_photo,
    notify_edit_card,
    notify_live_card,
    notify_job_update,
    notify_add_summary,
    audit_job_event,
    settle_schedule_approval,
    render_stats,
    model_summary,
    heartbeat_prepare,
    heartbeat_validate_chat,
    heartbeat_resolve_prompt,
    heartbeat_gather_changes,
    heartbeat_report_changes,
    heartbeat_run_agent,
    heartbeat_follow_up,
    heartbeat_find_duplicates,
    heartbeat_record_run,
    heartbeat_pause_schedule,
    heartbeat_job_digest,
)
