"""The worker registry: every worker is a name, a description, capabilities, a task queue and
its activities. Built-ins register exactly as plugins do, through the
`heartbeat_operator.workers` entry-point group (plus `HBO_WORKER_PLUGINS=module:attr,…`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.domain.errors import Refusal

log = logging.getLogger(__name__)


class StepRole(StrEnum):
    """What a worker's step is for in a job. `work` does what was asked; `report` closes a job
    by summarising the steps before it: the planner appends it to plans that ask for a report,
    it never names the job's worker, and moving on to it is not news on the card."""

    work = "work"
    report = "report"


@dataclass(frozen=True)
class WorkerDefinition:
    name: str
    description: str
    task_queue: str
    step_activity: str  # activity name that runs one job step (StepInput -> StepOutput)
    # Builds the activity callables for a worker process, given its settings.
    activities: Callable[[Any], Sequence[Callable[..., Any]]]
    capabilities: tuple[str, ...] = ()
    # The step parameter that carries a person's free-text input (`/dispatch <worker> <input>`).
    input_param: str = "input"
    # Words in a request that make this worker a good fit (the deterministic router uses them).
    keywords: tuple[str, ...] = ()
    default_timeout_seconds: int = 300
    # Set for workers whose step activity calls activity.heartbeat() regularly.
    heartbeat_timeout_seconds: int | None = None
    in_default_plans: bool = True
    # The worker runs code it is given (commands, scripts): a job whose input an LLM wrote waits
    # for a person's approval before such a step runs (core/domain/jobs/approval.py).
    runs_code: bool = False
    # The worker fetches the http(s) URLs its input names (research): a job whose URLs a model
    # chose waits for a person's approval unless each is the person's own or an allowed host.
    fetches_urls: bool = False
    role: StepRole = StepRole.work
    # A short output of this worker is its whole result (a command's): with no summary wanted,
    # a job of such steps only gets its closing report step when the output is too long.
    plain_result: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class UnknownWorkerError(Refusal, LookupError):
    pass


class WorkerRegistry:
    def __init__(self, workers: Sequence[WorkerDefinition]) -> None:
        self._workers: dict[str, WorkerDefinition] = {}
        for worker in workers:
            if worker.name in self._workers:
                log.warning("worker %r registered twice; keeping the first", worker.name)
                continue
            self._workers[worker.name] = worker

    def __contains__(self, name: str) -> bool:
        return name in self._workers

    def get(self, name: str) -> WorkerDefinition:
        try:
            return self._workers[name]
        except KeyError:
            known = ", ".join(sorted(self._workers)) or "none"
            raise UnknownWorkerError(f"no worker named {name!r} (known: {known})") from None

    def all(self) -> list[WorkerDefinition]:
        return list(self._workers.values())

    def names(self) -> list[str]:
        return list(self._workers)

    def task_queues(self) -> list[str]:
        return sorted({w.task_queue for w in self._workers.values()})

    def reporter(self) -> WorkerDefinition | None:
        """The worker whose step closes a job with a report (the first registered), if any."""
        return next((w for w in self._workers.values() if w.role is StepRole.report), None)

    def with_capability(self, capability: str) -> list[WorkerDefinition]:
        return [w for w in self._workers.values() if capability in w.capabilities]
