"""Turns an intent (worker + input) into a validated `JobSpec`, using the worker registry.

Routing is data: a step names a worker; the registry says which task queue and activity serve it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from core.domain.errors import Refusal
from core.domain.ids import new_job_id
from core.domain.jobs.approval import decide_approval
from core.domain.jobs.models import (
    MAX_GOAL_CHARS,
    JobOrigin,
    JobSpec,
    NotifyPolicy,
    RetrySpec,
    StepSpec,
)
from core.domain.registry import StepRole, WorkerDefinition, WorkerRegistry
from core.domain.urls import find_urls


class PlanSettings(Protocol):
    """What planning reads from the settings (`core.io.settings.Settings` has all of it); the rule
    stays free of the configuration loader, which reads the environment."""

    @property
    def task_max_run_seconds(self) -> int: ...
    @property
    def needs_attention_timeout_minutes(self) -> int: ...
    @property
    def execution_auto_approve(self) -> Sequence[str]: ...
    @property
    def research_auto_approve_hosts(self) -> Sequence[str]: ...
    @property
    def approval_timeout_minutes(self) -> float: ...
    @property
    def llm_enabled(self) -> bool: ...


class PlanError(Refusal, ValueError):
    """A request that cannot become a job; the message is shown to the person."""


def step_for(
    worker: WorkerDefinition,
    params: dict[str, Any],
    settings: PlanSettings,
    timeout: int | None = None,
) -> StepSpec:
    return StepSpec(
        worker=worker.name,
        task_queue=worker.task_queue,
        activity=worker.step_activity,
        role=worker.role,
        fetches_urls=worker.fetches_urls,
        params=params,
        timeout_seconds=min(
            timeout or worker.default_timeout_seconds, settings.task_max_run_seconds
        ),
        heartbeat_timeout_seconds=worker.heartbeat_timeout_seconds,
        retry=RetrySpec(),
    )


class Planner:
    def __init__(self, registry: WorkerRegistry, settings: PlanSettings) -> None:
        self.registry = registry
        self.settings = settings

    def plan(
        self,
        *,
        goal: str,
        steps: list[tuple[str, dict[str, Any]]],
        chat_id: int,
        topic_id: int | None = None,
        requested_by: int | None = None,
        report: bool = True,
        notify: NotifyPolicy = NotifyPolicy.state_changes,
        schedule_id: str | None = None,
        job_id: str | None = None,
        metadata: dict[str, str] | None = None,
        origin: JobOrigin = JobOrigin.person,
        person_text: str = "",
    ) -> JobSpec:
        """`origin` says who wrote the command or input; with the workers' `runs_code` and the
        owner's auto-approve list it decides whether the job waits for a person's Approve.
        `person_text` is the person's own message (never a model's words): the URLs in it may
        be fetched without asking."""
        if not goal.strip():
            raise PlanError("a job needs a goal")
        if len(goal.strip()) > MAX_GOAL_CHARS:
            raise PlanError(
                f"that request is too long for one job ({len(goal.strip()):,} characters; a "
                f"job's goal holds at most {MAX_GOAL_CHARS:,}). Nothing was started. Shorten "
                "it, or put the details in a script or file and name that."
            )
        specs: list[StepSpec] = []
        for name, params in steps:
            try:
                worker = self.registry.get(name)
            except LookupError as exc:
                raise PlanError(str(exc)) from None
            specs.append(step_for(worker, params, self.settings))
        person_urls = find_urls(person_text)[:50]
        reporter = self.registry.reporter() if report else None
        if reporter is not None and (not specs or specs[-1].role is not StepRole.report):
            specs.append(step_for(reporter, {}, self.settings))
        # Work whose short output is the whole result leaves the report step to the workflow
        # unless the output is long or a model could summarize it.
        plain = bool(specs) and all(
            s.role is StepRole.report or self.registry.get(s.worker).plain_result for s in specs
        )
        try:
            return JobSpec(
                job_id=job_id or new_job_id(),
                goal=goal.strip(),
                steps=specs,
                report_chat_id=chat_id,
                topic_id=topic_id,
                requested_by=requested_by,
                notify=notify,
                schedule_id=schedule_id,
                metadata=metadata or {},
                needs_attention_timeout_seconds=self.settings.needs_attention_timeout_minutes * 60,
                origin=origin,
                person_urls=person_urls,
                report_when_needed=plain,
                model_summaries=self.settings.llm_enabled,
                approval=decide_approval(
                    specs,
                    origin,
                    self.registry,
                    self.settings.execution_auto_approve,
                    goal=goal.strip(),
                    person_urls=person_urls,
                    auto_hosts=self.settings.research_auto_approve_hosts,
                ),
                approval_timeout_seconds=max(1, round(self.settings.approval_timeout_minutes * 60)),
            )
        except ValueError as exc:
            raise PlanError(f"invalid job: {exc}") from None

    def dispatch_job(self, worker: str, text: str, **kw: Any) -> JobSpec:
        """Any registered worker, by name, with the person's text as its input."""
        text = text.strip()
        try:
            definition = self.registry.get(worker)
        except LookupError as exc:
            raise PlanError(str(exc)) from None
        if not text:
            raise PlanError(f"usage: /dispatch {definition.name} <{definition.input_param}>")
        return self.plan(goal=text, steps=[(definition.name, {definition.input_param: text})], **kw)

    def exec_job(self, command: str, **kw: Any) -> JobSpec:
        command = command.strip()
        if not command:
            raise PlanError("usage: /exec <command>, for example /exec df -h")
        return self.plan(goal=f"run: {command}", steps=[("execution", {"command": command})], **kw)

    def research_job(self, goal: str, **kw: Any) -> JobSpec:
        goal = goal.strip()
        if not goal:
            raise PlanError("usage: /research <goal>, for example /research summarize notes.txt")
        return self.plan(goal=goal, steps=[("research", {"goal": goal})], **kw)
