"""Workflow-trigger heartbeats: the workflows a heartbeat may start instead of running a prompt.

A heartbeat's `workflow_id` names an entry here: a Temporal workflow type that takes one
`HeartbeatTrigger` argument, and the task queue its worker polls. Plugins register theirs at
import time with `register_trigger_workflow`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.temporal_names import OPERATOR_QUEUE


@dataclass(frozen=True)
class TriggerWorkflow:
    workflow_type: str
    task_queue: str = OPERATOR_QUEUE


_TRIGGER_WORKFLOWS: dict[str, TriggerWorkflow] = {
    # Built in: a digest of the chat's jobs since the previous run (workflows/heartbeat/digest.py).
    "job-digest": TriggerWorkflow("JobDigestWorkflow"),
}


def register_trigger_workflow(
    name: str, workflow_type: str, task_queue: str = OPERATOR_QUEUE
) -> None:
    _TRIGGER_WORKFLOWS[name] = TriggerWorkflow(workflow_type, task_queue)


def trigger_workflows() -> dict[str, TriggerWorkflow]:
    return dict(_TRIGGER_WORKFLOWS)


def trigger_workflow(name: str) -> TriggerWorkflow | None:
    return _TRIGGER_WORKFLOWS.get(name)
