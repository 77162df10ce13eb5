"""What crosses the heartbeat's boundaries (workflow ⇄ activities ⇄ child workflows).

Plain data only; nothing here reads the clock or the environment (workflows construct these).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.domain.heartbeat.config import HeartbeatConfig
from core.domain.heartbeat.prompt import RunDigest
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.messages import ChatMessage

# posted: something reached the chat · duplicate: the result was an alert this target was
# already shown within the duplicate window, so nothing was posted · suppressed: the ack token
# said "nothing to report" · silent: stored, not posted (nothing to say, dispatch_results
# false, optional mode unused) · skipped: the run did not happen (quiet hours, busy,
# unreachable, already running) · failed
Outcome = Literal["posted", "duplicate", "suppressed", "silent", "skipped", "failed"]


class HeartbeatPlan(BaseModel):
    """The target's settings and state at the start of a run (`heartbeat.prepare`)."""

    target: HeartbeatTarget
    exists: bool = True
    # Nothing to watch (no running or unreported job, no checklist items, no trigger, not
    # fired by hand): the run ends here, with no further activity, no LLM call and no log entry.
    idle: bool = False
    idle_note: str = ""  # e.g. that the check created HEARTBEAT.md from its template
    config: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    target_name: str = ""
    run_number: int = 1
    last_run_at: datetime | None = None
    last_executed_at: datetime | None = None
    busy_reason: str = ""  # non-empty: the person is mid-conversation, skip this run
    fired: bool = False  # a person asked for this run (/heartbeat fire): no quiet/busy gates
    needs_validation: bool = False  # a group target whose cached getChat answer expired
    unreachable_reason: str = ""  # a cached negative getChat answer
    llm_available: bool = False
    no_llm_notice_sent: bool = False
    consecutive_failures: int = 0
    changes_since: datetime | None = None
    topic_targets: list[int] = Field(default_factory=list)  # topics of this chat with their own
    trigger_workflow_type: str = ""  # the Temporal type behind config.workflow_id
    trigger_task_queue: str = ""
    # For the preamble (built in the workflow with workflow time):
    messages_since_last_run: int | None = None
    last_user_message_at: datetime | None = None
    previous_result: str = ""
    recent_runs: list[RunDigest] = Field(default_factory=list)
    repetition_results: list[str] = Field(default_factory=list)


class ValidationResult(BaseModel):
    ok: bool
    reason: str = ""
    cached: bool = False


class GatherRequest(BaseModel):
    target: HeartbeatTarget
    config: HeartbeatConfig
    since: datetime | None = None
    topic_targets: list[int] = Field(default_factory=list)


class JobChange(BaseModel):
    job_id: str
    state: str  # the job's state now (a JobState value)
    ledger_status: str  # what the ledger records once told: state, or state + ":stale"/":stuck"
    kind: Literal["state", "stale", "stuck"] = "state"
    goal: str = ""
    detail: str = ""  # result summary, last error, or how long it has been silent
    # A finished job's own result message (output, report, document): told as the job would
    # have told it, never reduced to a state line.
    message: ChatMessage | None = None
    # The ledger's last told status when the change was found (None: nothing told): the report
    # claims only if the ledger still shows it, so a late retry never tells an older state.
    told_before: str | None = None

    def line(self) -> str:
        """One plain-text line for the agent's preamble."""
        what = {"state": self.state, "stale": "stale (running, no progress)", "stuck": "stuck"}
        text = f"{self.job_id}: {what[self.kind]} — {self.goal[:120]}"
        return text + (f" ({self.detail[:200]})" if self.detail else "")


class ChangeSet(BaseModel):
    changes: list[JobChange] = Field(default_factory=list)
    checked_until: datetime | None = None  # the new watermark for the next run's query
    deferred: int = 0  # changes left to the job's own push for now (grace period)
    examined: int = 0  # jobs looked at


class ReportRequest(BaseModel):
    target: HeartbeatTarget
    changes: list[JobChange]


class ReportResult(BaseModel):
    reported: list[str] = Field(default_factory=list)  # job ids told in this digest
    already: list[str] = Field(default_factory=list)  # someone (the push) told them first
    held: list[str] = Field(default_factory=list)  # someone is telling them now: next run
    message_ids: list[int] = Field(default_factory=list)


class AgentRequest(BaseModel):
    target: HeartbeatTarget
    config: HeartbeatConfig
    prompt: str
    preamble: str
    workspace_folder: str


class AgentResult(BaseModel):
    text: str = ""
    posts: list[str] = Field(default_factory=list)  # post_heartbeat_to_channel calls
    llm_calls: int = 0
    tokens: int = 0
    tool_calls: int = 0
    stop_reason: str = "done"  # done | budget: calls | budget: tokens | timeout
    jobs_started: list[str] = Field(default_factory=list)


class FollowUpRequest(BaseModel):
    target: HeartbeatTarget
    result: str
    requested_by: int | None = None


class HeartbeatTrigger(BaseModel):
    """The input of a workflow-trigger heartbeat's workflow (`workflow_id`)."""

    target: HeartbeatTarget
    run_number: int
    heartbeat_run_id: str
    interval_minutes: int
    dispatch_results: bool = True


class RunFigures(BaseModel):
    """What a run did that its log entry keeps (the workflow gathers them as it goes)."""

    result: str = ""
    prompt_source: str = ""
    executed: bool = False  # the run got past the quiet/busy/validation gates
    changes: int = 0
    llm_calls: int = 0
    tokens: int = 0
    tool_calls: int = 0
    repetition_alert: bool = False
    checked_until: datetime | None = None
    no_llm_notice_sent: bool = False
    delivered: list[str] = Field(default_factory=list)  # results posted (duplicate window)
    duplicates: int = 0  # results held back as already shown within the window


class RunRecord(RunFigures):
    target: HeartbeatTarget
    workflow_id: str
    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    reason: str = ""


class DuplicateCheck(BaseModel):
    """Results about to be posted to a target (`heartbeat.find_duplicates`)."""

    target: HeartbeatTarget
    texts: list[str]


class DuplicateVerdict(BaseModel):
    """Per text, in order: when the target was already shown it within the window, or None."""

    delivered_at: list[datetime | None]


class RecordResult(BaseModel):
    run_number: int
    consecutive_failures: int


class PauseRequest(BaseModel):
    target: HeartbeatTarget
    failures: int
    last_error: str


class HeartbeatRunSummary(BaseModel):
    """HeartbeatWorkflow's result (what the Web UI shows for a run)."""

    outcome: Outcome
    reason: str = ""
    run_number: int = 0
