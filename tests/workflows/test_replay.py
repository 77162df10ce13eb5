"""Recorded histories of real runs replay against today's workflow code.

A workflow that is running when a new version of the worker starts is continued by the new
code, which replays its history first: if the new code would issue different commands (another
activity first, a timer less, a step reordered), the run fails with a non-determinism error.
Every history in tests/workflows/histories/ — a job completed, failed, retried after needing
attention, cancelled, approved and denied; heartbeat runs (idle, posted, the job-digest child);
a recurring job's approval; /stats — is replayed here with `temporalio.worker.Replayer` against
the workflow classes the workers register (worker_main.build_workers), and must replay cleanly.

When this fails, the change broke running workflows. Either undo it, or make it a deliberate,
versioned change (`workflow.patched(...)` around the new behaviour, keeping the old path for
histories that do not have the patch marker) and then re-record, so the fixtures show the new
shape as well:

    .venv/bin/python -m tests.workflows.record_histories

Re-recording without versioning only hides the problem: histories already in a server would
still break. Add a scenario to record_histories.py when a workflow gains a path worth keeping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.heartbeat.digest import JobDigestWorkflow
from workflows.heartbeat.workflow import HeartbeatWorkflow
from workflows.job import JobWorkflow
from workflows.schedule_approval import ScheduleApprovalWorkflow
from workflows.stats import StatsWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
WORKFLOWS = [
    JobWorkflow,
    HeartbeatWorkflow,
    JobDigestWorkflow,
    ScheduleApprovalWorkflow,
    StatsWorkflow,
]
# What record_histories.py records; a missing file would make a path go untested silently.
SCENARIOS = {
    "job-completed": "JobWorkflow",
    "job-failed": "JobWorkflow",
    "job-retried": "JobWorkflow",
    "job-cancelled": "JobWorkflow",
    "job-approved": "JobWorkflow",
    "job-denied": "JobWorkflow",
    "heartbeat-idle": "HeartbeatWorkflow",
    "heartbeat-posted": "HeartbeatWorkflow",
    "heartbeat-job-digest": "HeartbeatWorkflow",
    "job-digest": "JobDigestWorkflow",
    "schedule-approved": "ScheduleApprovalWorkflow",
    "stats": "StatsWorkflow",
}
RECORDINGS = sorted(HISTORIES.glob("*.json"))


def scenario_of(path: Path) -> str:
    return path.stem.split("--", 1)[0]


def load(path: Path) -> WorkflowHistory:
    """A recording: `<scenario>--<workflow id>.json` holding `WorkflowHistory.to_json()`."""
    workflow_id = path.stem.split("--", 1)[1]
    return WorkflowHistory.from_json(workflow_id, path.read_text(encoding="utf-8"))


def workflow_type(path: Path) -> str:
    first = json.loads(path.read_text(encoding="utf-8"))["events"][0]
    return str(first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"])


def test_every_scenario_has_one_recording_of_its_workflow() -> None:
    recorded = {scenario_of(path): workflow_type(path) for path in RECORDINGS}
    assert len(recorded) == len(RECORDINGS), [p.name for p in RECORDINGS]
    assert recorded == SCENARIOS
    assert set(SCENARIOS.values()) == {w.__name__ for w in WORKFLOWS}


@pytest.mark.parametrize("path", RECORDINGS, ids=scenario_of)
async def test_a_recorded_history_replays_against_the_current_code(path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"
