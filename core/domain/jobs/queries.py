"""Every question asked of Temporal's visibility about jobs, and how an execution's status maps
onto a job's state — in one place, so `/jobs`, `/status`, `/stats`, the heartbeat and the
intake agree on what a chat's jobs are and which state each is in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowExecutionStatus as ExecStatus

from core.domain.jobs.models import JobState

# The workflow type of every job (workflows/job.py registers it under this name); a job's
# workflow id is its job id.
JOB_WORKFLOW = "JobWorkflow"
ALL_JOBS = f"WorkflowType = '{JOB_WORKFLOW}'"

# A closed execution that did not record a final state of its own ends in this one.
CLOSED_AS = {
    ExecStatus.COMPLETED: JobState.completed,
    ExecStatus.FAILED: JobState.failed,
    ExecStatus.CANCELED: JobState.cancelled,
    ExecStatus.TERMINATED: JobState.failed,
    ExecStatus.TIMED_OUT: JobState.failed,
}


def chat_jobs_query(chat_id: int, extra: str = "") -> str:
    """A chat's jobs, optionally narrowed by a further visibility clause."""
    query = f"{ALL_JOBS} AND ReportChatId = {int(chat_id)}"
    return f"{query} AND ({extra})" if extra else query


def closed_since(when: datetime) -> str:
    """The visibility clause for executions closed at or after `when`."""
    return f"CloseTime >= '{_rfc3339(when)}'"


def closed_after(when: datetime) -> str:
    """The visibility clause for executions closed after `when` (to the microsecond; a naive
    `when` is taken as UTC)."""
    utc = when.astimezone(UTC) if when.tzinfo is not None else when
    return f"CloseTime > '{utc.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Executions that run now, and running jobs that wait for a person's retry / reroute / cancel.
RUNNING = "ExecutionStatus = 'Running'"
WAITING = f"{RUNNING} AND JobStatus = 'needs_attention'"


def running_jobs_query(chat_id: int) -> str:
    return chat_jobs_query(chat_id, RUNNING)


def waiting_jobs_query(chat_id: int) -> str:
    """A chat's jobs that wait for a decision (retry, reroute, cancel)."""
    return chat_jobs_query(chat_id, WAITING)


# Jobs that ended badly (their own word, or Temporal's), and jobs that finished well.
FAILED = (
    "(JobStatus = 'failed' OR ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut' "
    "OR ExecutionStatus = 'Terminated')"
)
DONE = "JobStatus = 'completed' AND ExecutionStatus = 'Completed'"
WINDOWS = ("today", "yesterday", "week")


@dataclass(frozen=True)
class Window:
    """A period jobs ended in, as a person names it."""

    label: str
    start: datetime
    end: datetime | None

    def clause(self) -> str:
        out = closed_since(self.start)
        if self.end is not None:
            out += f" AND CloseTime < '{_rfc3339(self.end)}'"
        return out


def in_state(state: JobState) -> str:
    """Jobs whose recorded state (their JobStatus search attribute) is `state`."""
    return f"JobStatus = '{state.value}'"


def failed_jobs_query(chat_id: int, window: Window) -> str:
    """A chat's jobs that ended badly within `window`."""
    return chat_jobs_query(chat_id, f"{FAILED} AND {window.clause()}")


def done_jobs_query(chat_id: int, window: Window) -> str:
    """A chat's jobs that finished well within `window`."""
    return chat_jobs_query(chat_id, f"{DONE} AND {window.clause()}")


def parse_window(args: str, timezone: str, now: datetime | None = None) -> Window:
    """`today` (default), `yesterday` or `week` (the last 7 days), in the operator's timezone."""
    word = (args.split() or ["today"])[0].lower()
    if word not in WINDOWS:
        raise ValueError(f"unknown period {word!r}: use today, yesterday or week")
    now = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "today":
        return Window("today", midnight, None)
    if word == "yesterday":
        return Window("yesterday", midnight - timedelta(days=1), midnight)
    return Window("in the last 7 days", now - timedelta(days=7), None)


def job_state(recorded: str | None, status: ExecStatus | None) -> str:
    """A job's state: the one it recorded (its JobStatus search attribute), unless the execution
    closed without recording a final one (terminated, timed out, failed in the workflow)."""
    state = recorded or JobState.queued.value
    closed = CLOSED_AS.get(status) if status is not None else None
    if closed is None:
        return state
    try:
        final = JobState(state).is_final
    except ValueError:
        final = False
    return state if final else closed.value


def execution_word(status: ExecStatus | None) -> str:
    """How an execution's status reads in a sentence ("it completed", "it running")."""
    if status is None:
        return "unknown"
    closed = CLOSED_AS.get(status)
    return closed.value if closed is not None else status.name.lower()
