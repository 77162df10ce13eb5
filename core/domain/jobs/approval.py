"""The approval gate, decided in one place: does a job wait for a person before it runs?

A job waits (`Approval.required`) when an LLM wrote its command or input (free-text intake, the
heartbeat agent, a heartbeat's follow-up) and one of its steps runs on a worker that declares it
runs code (`WorkerDefinition.runs_code`; an unknown worker counts as running code), or fetches a
URL the model chose (`WorkerDefinition.fetches_urls`: research). The owner's
`EXECUTION_AUTO_APPROVE` list lets such a job run at once when every code-running step is a plain
command (no shell) whose argv[0] is on the list; a URL needs no approval when it is written
verbatim in the person's own message (`JobSpec.person_urls`) or its host is on
`RESEARCH_AUTO_APPROVE_HOSTS`. What a person typed runs as it always did.

Pure functions: the planner calls `decide_approval`; the workflow and the bot render with
`approval_document` (and `core.domain.jobs.messages`), so the person sees exactly what will run, and
the workflow checks `approval_digest` before it runs anything. `DecisionGate` is the one
approve / deny rule of both approval workflows.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable, Sequence

from core.domain.jobs.models import Approval, ApprovalDecision, JobOrigin, JobSpec, StepSpec
from core.domain.registry import WorkerRegistry
from core.domain.render import visible_literal
from core.domain.urls import find_urls, url_host

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


def step_urls(step: StepSpec, goal: str) -> list[str]:
    """The URLs a URL-fetching step will fetch: those its input names, found exactly as the
    research worker finds them (`core.domain.urls.find_urls` on its `goal` parameter, else the job's
    goal). Empty for other steps."""
    if not step.fetches_urls:
        return []
    text = step.params.get("goal") or goal
    return find_urls(str(text))


def model_chosen_urls(
    step: StepSpec, goal: str, person_urls: Sequence[str], auto_hosts: Sequence[str]
) -> list[str]:
    """The step's URLs that neither the person wrote nor the owner's host list covers."""
    allowed_hosts = {host.lower().rstrip(".") for host in auto_hosts}
    return [
        url
        for url in step_urls(step, goal)
        if url not in person_urls and url_host(url) not in allowed_hosts
    ]


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
    *,
    goal: str = "",
    person_urls: Sequence[str] = (),
    auto_hosts: Sequence[str] = (),
) -> Approval:
    if not origin.is_llm:
        return Approval.not_needed
    if any(model_chosen_urls(step, goal, person_urls, auto_hosts) for step in steps):
        return Approval.required
    gated = code_steps(steps, registry)
    if not gated:
        return Approval.not_needed
    if auto_approve and all(auto_approvable(step, auto_approve) for step in gated):
        return Approval.auto_approved
    return Approval.required


def approval_document(spec: JobSpec) -> str:
    """Everything the job will run or fetch, whole and unambiguous: per step its argv one item
    per line (or the shell line), or the URLs it fetches, each a `visible_literal`. This is the
    file attached to a request too long for a message, and what `approval_digest` digests."""
    lines: list[str] = []
    for index, step in enumerate(spec.steps, start=1):
        command = step_command(step)
        if command is not None:
            argv = step_argv(step)
            if step.params.get("shell"):
                lines.append(f"step {index}: runs /bin/sh -c with this command line:")
                lines.append(visible_literal(command))
            elif argv is None:
                lines.append(f"step {index}: a command line that does not parse (it fails):")
                lines.append(visible_literal(command))
            else:
                lines.append(f"step {index}: runs this argv, one item per line:")
                lines += [visible_literal(item) for item in argv]
        urls = step_urls(step, spec.goal)
        if urls:
            lines.append(f"step {index}: fetches these URLs:")
            lines += [visible_literal(url) for url in urls]
    return "\n".join(lines) + "\n" if lines else ""


def approval_digest(spec: JobSpec) -> str:
    """SHA-256 (hex) of `approval_document`: shown with the request, checked before running."""
    return hashlib.sha256(approval_document(spec).encode("utf-8")).hexdigest()


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
    cannot be taken, or None: only that chat decides, once, while the request is open. No
    field of the decision can lift the chat rule: one it does not know is refused."""
    if decision.model_extra:
        fields = ", ".join(sorted(decision.model_extra))
        return f"a decision carries only user_id and chat_id (not {fields})"
    if decision.chat_id != chat_id:
        return f"only the chat {subject} belongs to can decide"
    return already_decided(subject, earlier, closed)


def already_decided(subject: str, earlier: Decided | None, closed: str) -> str | None:
    """What already happened to the request: decided (by whom, when) or closed; else None."""
    if earlier is not None:
        approved, who, when = earlier
        verb = "approved" if approved else "denied"
        return (
            f"{subject} was already {verb} by user {who.user_id} at {when}; nothing more to decide"
        )
    if closed:
        return f"{subject} is no longer waiting: {closed}"
    return None


class DecisionGate:
    """The one approve / deny rule of a request waiting for a person (a job's approval gate and
    a recurring job's `ScheduleApprovalWorkflow`): exactly one decision is taken.

    The workflow's validator calls `check`; its handler calls `take` first, synchronously, before
    it awaits anything, so a second Update handled in the same workflow task — even one whose
    validator ran before the first handler — finds the decision taken and is refused with it."""

    def __init__(self) -> None:
        self.decided: Decided | None = None
        self.closed = ""  # why the request closed without a decision (its deadline)

    def refusal(self, subject: str, decision: ApprovalDecision, chat_id: int) -> str | None:
        return decision_refusal(subject, decision, chat_id, self.decided, self.closed)

    def check(self, subject: str, decision: ApprovalDecision, chat_id: int) -> None:
        refusal = self.refusal(subject, decision, chat_id)
        if refusal:
            raise ValueError(refusal)

    def take(
        self, subject: str, approved: bool, decision: ApprovalDecision, when: str
    ) -> str | None:
        """Record the decision; what already happened instead when a decision was taken (or
        the request closed) between this Update's validation and now. (Who may decide is the
        validator's to check: a replay runs handlers without validators, on recorded input.)"""
        refusal = already_decided(subject, self.decided, self.closed)
        if refusal:
            return refusal
        self.decided = (approved, decision, when)
        return None
