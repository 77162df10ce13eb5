"""The job model: what a job is (`JobSpec`), where it stands (`JobStatus`), what it produced.

These models cross every boundary (bot -> workflow -> activities -> ledger), so they hold plain
data only. Nothing here may read the clock or the environment: workflows construct them.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.domain.messages import ChatMessage
from core.domain.registry import StepRole

# Scheduled runs get the schedule time appended by Temporal: job-abc123-2026-11-25T09:00:00Z
JOB_ID_RE = re.compile(r"^job-[A-Za-z0-9][A-Za-z0-9:._-]{2,60}$")
MAX_GOAL_CHARS = 2000


class JobState(StrEnum):
    queued = "queued"
    # An LLM wrote the command of a code-running step: nothing runs until a person approves.
    awaiting_approval = "awaiting_approval"
    running = "running"
    retrying = "retrying"
    needs_attention = "needs_attention"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobState.completed, JobState.failed, JobState.cancelled)


def ledger_status(state: JobState, episode: int = 1) -> str:
    """What the report ledger records for a told state: the state, with the episode after a
    retry (`needs_attention#2`), so each failure after a retry is told once of its own."""
    return state.value if episode <= 1 else f"{state.value}#{episode}"


def parse_ledger_status(value: str) -> tuple[str, int, str]:
    """(state, episode, suffix) of a ledger status such as `needs_attention#2:stuck`."""
    head, _, suffix = value.partition(":")
    state, _, episode = head.partition("#")
    return state, int(episode) if episode.isdigit() else 1, suffix


class NotifyPolicy(StrEnum):
    state_changes = "state_changes"  # started, needs attention, the end
    done_only = "done_only"
    silent = "silent"

    def wants(self, state: JobState) -> bool:
        if state is JobState.awaiting_approval:
            return True  # the approval request must reach a person, whatever the policy
        if self is NotifyPolicy.silent:
            return False
        if self is NotifyPolicy.done_only:
            return state.is_final
        return state in (JobState.running, JobState.needs_attention) or state.is_final


class JobOrigin(StrEnum):
    """Who wrote the job's command or input."""

    person = "person"  # typed by a person (/exec, /every, /dispatch, …)
    llm_intake = "llm_intake"  # a tool call of the free-text intake's model
    heartbeat_agent = "heartbeat_agent"  # a tool call of the heartbeat agent's model
    trigger_response = "trigger_response"  # a heartbeat's follow-up job

    @property
    def is_llm(self) -> bool:
        return self is not JobOrigin.person


class Approval(StrEnum):
    """Whether a person must approve the job before its first step runs."""

    not_needed = "not_needed"  # a person wrote it, or no step runs code
    required = "required"  # waits in awaiting_approval for Approve / Deny
    auto_approved = "auto_approved"  # the owner's EXECUTION_AUTO_APPROVE list covers it
    approved = "approved"  # a person approved it before it was started (a recurring job)


class RetrySpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=3, ge=1, le=50)
    initial_interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)
    max_interval_seconds: float = Field(default=60.0, gt=0, le=86400)


class StepSpec(BaseModel):
    """One step: which worker runs it (resolved to a task queue + activity by the registry)."""

    worker: str
    task_queue: str
    activity: str
    role: StepRole = StepRole.work
    # The worker fetches the URLs its input names (from the worker registry, by the planner).
    fetches_urls: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    # Only for workers that heartbeat: a silent worker past this is presumed dead and retried.
    heartbeat_timeout_seconds: int | None = Field(default=None, ge=1, le=3600)
    retry: RetrySpec = Field(default_factory=RetrySpec)


class ScheduleSpec(BaseModel):
    """Interval (`every_seconds`) or cron expression, interpreted in `timezone`."""

    every_seconds: int | None = Field(default=None, ge=1)
    cron: str | None = None
    timezone: str = "UTC"
    description: str = ""


class JobSpec(BaseModel):
    job_id: str
    goal: str = Field(min_length=1, max_length=MAX_GOAL_CHARS)
    steps: list[StepSpec] = Field(min_length=1, max_length=10)
    report_chat_id: int
    topic_id: int | None = None
    requested_by: int | None = None
    schedule_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    notify: NotifyPolicy = NotifyPolicy.state_changes
    needs_attention_timeout_seconds: int = Field(default=24 * 3600, ge=1)
    # The operator's own reply (the job card) already told the chat the job started.
    announced: bool = False
    # Where that card is (posted before the job started), so the job edits it in place, and
    # the dispatch reason it shows. None: no card, or a transport that cannot edit.
    card_message_id: int | None = None
    card_why: str = Field(default="", max_length=300)
    # The message that asked for approval (its Approve / Deny buttons), when the bot posted it.
    approval_message_id: int | None = None
    origin: JobOrigin = JobOrigin.person
    approval: Approval = Approval.not_needed
    approval_timeout_seconds: int = Field(default=3600, ge=1)
    # The http(s) URLs in the person's own message, copied by the bot from the message text (a
    # model's tool arguments never reach this field): a model may send research to these
    # without asking, because the person wrote them.
    person_urls: list[str] = Field(default_factory=list, max_length=50)
    # The closing report step runs only when it has work the workflow cannot do: a report file
    # for an output too long for the message, or a model summary (`model_summaries`: the
    # planner's settings configure a model). Otherwise the workflow renders the same plain
    # report itself, in the task that handles the last result. False in histories recorded
    # before the field existed: they replay with the step always run.
    report_when_needed: bool = False
    model_summaries: bool = False

    @field_validator("job_id")
    @classmethod
    def _job_id(cls, value: str) -> str:
        if not JOB_ID_RE.match(value):
            raise ValueError(f"job id {value!r} must look like job-<letters/digits>")
        return value

    @property
    def main_step(self) -> StepSpec:
        """The step that names the job's worker: the first that does the work (not a report)."""
        return next((s for s in self.steps if s.role is StepRole.work), self.steps[0])


class StepInput(BaseModel):
    """What every worker activity receives: a uniform envelope so routing is data, not code."""

    job_id: str
    step_index: int
    worker: str
    goal: str
    params: dict[str, Any] = Field(default_factory=dict)
    workspace: str  # the job's folder name under the workspaces root, never a path
    timeout_seconds: int = 300
    previous: list[StepOutput] = Field(default_factory=list)
    # The job shows a card the step may make live (signal `step_running_long` once slow).
    live_card: bool = False


class StepOutput(BaseModel):
    worker: str
    ok: bool = True
    summary: str = ""
    output: str = ""
    files: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    # Set when the step finished but did not do what was asked (e.g. research that read
    # nothing): the job still completes, and its result message leads with this warning.
    warning: str = ""


class SummaryRequest(BaseModel):
    """Ask the reporting worker for the model's summary of a job's report (its `report.md`),
    after the result was told."""

    job_id: str
    workspace: str  # the job's folder name under the workspaces root, never a path


class JobStatus(BaseModel):
    job_id: str
    goal: str
    state: JobState = JobState.queued
    phase: str = "queued"
    step_index: int = 0
    step_count: int = 0
    worker: str = ""
    attempt: int = 0
    progress: str = ""
    last_error: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    schedule_id: str | None = None
    # Each failure after a retry (and what follows it) is its own change to tell: 1, 2, ...
    episode: int = 1


class RetryRequest(BaseModel):
    requested_by: int | None = None


class RerouteRequest(BaseModel):
    worker: str
    task_queue: str
    activity: str
    step_index: int | None = None  # default: the failed step, else the next pending one
    requested_by: int | None = None


class MetadataUpdate(BaseModel):
    metadata: dict[str, str]
    requested_by: int | None = None


class ApprovalDecision(BaseModel):
    """A person's Approve / Deny of a job waiting in `awaiting_approval`: who, from which chat.

    Nothing else: a field that is not one of these (such as an old `console` flag) is kept
    (`extra="allow"`, so recorded histories still decode) and refused by the decision rule."""

    model_config = ConfigDict(extra="allow")

    user_id: int | None = None
    chat_id: int | None = None  # the chat the decision came from


class ScheduleApproval(BaseModel):
    """A recurring job whose command an LLM wrote, created paused: the approval it waits for."""

    schedule_id: str
    chat_id: int
    topic_id: int | None = None
    requested_by: int | None = None
    goal: str = ""
    timeout_seconds: int = Field(default=3600, ge=1)
    detail: str = ""  # what the audit log keeps (origin, worker, argv)


class ScheduleSettlement(BaseModel):
    """The schedule side of a decision: approved (start it) or not (delete it)."""

    schedule_id: str
    approved: bool
    note: str = ""


class AuditEvent(BaseModel):
    """An audit-log entry a job writes about itself (approval requests and decisions)."""

    action: str
    job_id: str
    chat_id: int | None = None
    user_id: int | None = None
    detail: str = ""


class JobResult(BaseModel):
    job_id: str
    state: JobState
    outputs: list[StepOutput] = Field(default_factory=list)
    message: str = ""
    last_error: str = ""
    # The result message the job's chat gets (whoever sends it: the job's push, or the
    # heartbeat when the push could not), and the ledger status it is recorded under.
    final_message: ChatMessage | None = None
    final_status: str = ""


StepInput.model_rebuild()
