"""The approval gate, decided in one place: does a job wait for a person before it runs?

A job waits (`Approval.required`) when an LLM wrote its command or input (free-text intake, the
heartbeat agent, a heartbeat's follow-up) and one of its steps runs on a worker that declares it
runs code (`WorkerDefinition.runs_code`; an unknown worker counts as running code). The owner's
`EXECUTION_AUTO_APPROVE` list lets such a job run at once when every code-running step is a plain
command (no shell) whose argv[0] is on the list. What a person typed runs as it always did.

Pure functions: the planner calls `decide_approval`; the workflow and the bot render with
`step_argv` / `step_command`, so the person sees exactly what will run.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from core.jobs.models import Approval, ApprovalDecision, JobOrigin, StepSpec
from core.registry import WorkerRegistry

COMMAND_PARAM = "command"


def step_command(step: StepSpec) -> str | None:
    """The command line of a command-running step (the execution worker's `command`)."""
    value = step.params.get(COMMAND_PARAM)
    return value if isinstance(value, str) else None


def step_argv(step: StepSpec) -> list[str] | None:
    """The argv the execution worker will run (the same `shlex.split`); None for a shell step,
    a step without a command, or a command that does not parse."""
    command = step_command(step)
    if command is None or step.params.get("shell"):
        return None
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    return argv or None


def runs_code(registry: WorkerRegistry, worker: str) -> bool:
    if worker not in registry:
        return True  # a worker nobody declared: assume the worst
    return registry.get(worker).runs_code


def code_steps(steps: Iterable[StepSpec], registry: WorkerRegistry) -> list[StepSpec]:
    return [step for step in steps if runs_code(registry, step.worker)]


def auto_approvable(step: StepSpec, allow: Sequence[str]) -> bool:
    """argv[0] exactly on the owner's list, and no shell."""
    argv = step_argv(step)
    return argv is not None and argv[0] in allow


def decide_approval(
    steps: Sequence[StepSpec],
    origin: JobOrigin,
    registry: WorkerRegistry,
    auto_approve: Sequence[str] = (),
) -> Approval:
    if not origin.is_llm:
        return Approval.not_needed
    gated = code_steps(steps, registry)
    if not gated:
        return Approval.not_needed
    if auto_approve and all(auto_approvable(step, auto_approve) for step in gated):
        return Approval.auto_approved
    return Approval.required


def schedule_approval_id(schedule_id: str) -> str:
    """The workflow that holds a recurring job's pending approval (one per schedule)."""
    return f"approval-{schedule_id}"


def describe_origin(origin: JobOrigin, requested_by: int | None) -> str:
    """Who or what asked for the job, in words for the approval message and the audit log."""
    person = f"user {requested_by}" if requested_by is not None else "nobody in the chat"
    if origin is JobOrigin.llm_intake:
        return f"the language model, from a message by {person}"
    if origin is JobOrigin.heartbeat_agent:
        return "the heartbeat agent (a language model, on its schedule)"
    if origin is JobOrigin.trigger_response:
        return "a heartbeat follow-up (written from a language model's result)"
    return person


# An earlier decision: approved or not, by whom, when (UTC, as shown).
Decided = tuple[bool, ApprovalDecision, str]


def decision_refusal(
    subject: str, decision: ApprovalDecision, chat_id: int, earlier: Decided | None, closed: str
) -> str | None:
    """Why `decision` on `subject` (a job or a schedule waiting for approval in `chat_id`)
    cannot be taken, or None: only that chat decides, once, while the request is open."""
    if not decision.console and decision.chat_id != chat_id:
        return f"only the chat {subject} belongs to can decide"
    if earlier is not None:
        approved, who, when = earlier
        verb = "approved" if approved else "denied"
        return (
            f"{subject} was already {verb} by user {who.user_id} at {when}; nothing more to decide"
        )
    if closed:
        return f"{subject} is no longer waiting: {closed}"
    return None
