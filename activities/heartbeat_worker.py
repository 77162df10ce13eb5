"""Everything the operator task queue needs for heartbeats, in one place for `build_workers`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflows.heartbeat import HeartbeatWorkflow
from workflows.heartbeat_digest import JobDigestWorkflow

from .heartbeat import HeartbeatActivities, HeartbeatDeps
from .heartbeat_agent import AgentActivities
from .heartbeat_changes import ChangeActivities
from .heartbeat_digest import DigestActivities

HEARTBEAT_WORKFLOWS: list[type] = [HeartbeatWorkflow, JobDigestWorkflow]


def heartbeat_activities(deps: HeartbeatDeps) -> list[Callable[..., Any]]:
    changes = ChangeActivities(deps)
    return [
        *HeartbeatActivities(deps).all(),
        changes.gather_changes,
        changes.report_changes,
        AgentActivities(deps).run_agent,
        DigestActivities(deps).job_digest,
    ]
