"""Each activity a workflow calls is declared once (core/domain/activity_stubs.py), implemented with
the
same name and signature, and registered on the task queue the workflow sends it to.

Workflows name activities by stub, so mypy checks each call's argument and result against the
stub. What mypy cannot see is checked here, against the workers exactly as
`worker_main.build_workers` composes them for the product:

- no workflow names an activity by a string (the job's step activity aside: it is chosen at
  run time from the worker registry, where plugins add workers);
- every stub has an implementation registered under its name, with the same parameter and
  result types, and every stub is called by some workflow;
- every call site's task queue (a constant, or the calling workflow's own queue for a local
  activity) registers the activity called there — read from the workflows' source;
- every activity in the recorded histories (tests/workflows/histories) is registered on the
  queue it was scheduled on, and each registry worker's step activity on the worker's queue.
"""

from __future__ import annotations

import ast
import base64
import functools
import importlib
import json
import typing
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.client import Client

from activities.telegram.console import ConsoleSender
from core.domain import activity_stubs
from core.domain.jobs.models import StepInput, StepOutput
from core.domain.registry import WorkerRegistry
from core.io.devserver import DevServer
from hbo.runtime import open_runtime
from hbo.workers import all_queues, build_workers
from tests.support.namespaces import new_namespace
from tests.support.stack import make_settings

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = Path(__file__).resolve().parent / "histories"
ACTIVITY_CALLS = {
    "execute_activity": "remote",
    "start_activity": "remote",
    "execute_local_activity": "local",
    "start_local_activity": "local",
    "best_effort": "remote",  # workflows/calls.py: an activity whose failure is only logged
    # HeartbeatWorkflow's short steps: on the run's own task queue (a local activity in runs
    # from before the steps became activities).
    "_step": "local",
}


def name_of(fn: Callable[..., Any]) -> str:
    # The SDK keeps an activity's definition on the function; there is no public accessor.
    return activity._Definition.must_from_callable(fn).name


STUBS: dict[str, Callable[..., Any]] = {name_of(stub): stub for stub in activity_stubs.ALL}


@dataclass
class Composition:
    """What each task queue's worker registers: activities by name, workflow types."""

    activities: dict[str, dict[str, Callable[..., Any]]]
    workflows: dict[str, set[str]]
    registry: WorkerRegistry

    def queue_of(self, workflow_type: str) -> str:
        (queue,) = [q for q, types in self.workflows.items() if workflow_type in types]
        return queue


@pytest.fixture(scope="module")
async def composition(
    dev_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Composition]:
    data_dir = tmp_path_factory.mktemp("stubs")
    settings = make_settings(data_dir, dev_server.target)
    # Its own namespace: a worker built for a queue is registered with the SDK even if it never
    # runs, and the session's shared stack polls the same queues in the default namespace.
    own = await new_namespace(dev_server.target, client, "stubs")
    async with open_runtime(settings, own) as runtime:
        queues = all_queues(runtime.registry)
        workers = build_workers(runtime, queues, ConsoleSender(pictures=data_dir))
        activities: dict[str, dict[str, Callable[..., Any]]] = {}
        workflows: dict[str, set[str]] = {}
        for worker in workers:
            config = worker.config()
            activities[worker.task_queue] = {
                name_of(fn): fn for fn in config.get("activities") or []
            }
            workflows[worker.task_queue] = {
                _workflow_type(cls) for cls in config.get("workflows") or []
            }
        yield Composition(activities, workflows, runtime.registry)


def _workflow_type(cls: type) -> str:
    definition = workflow._Definition.must_from_class(cls)
    assert definition.name is not None
    return definition.name


# --- the workflows' source --------------------------------------------------------------------
@dataclass(frozen=True)
class CallSite:
    where: str
    kind: str  # "remote" or "local"
    activity: ast.expr
    task_queue: ast.expr | None
    module: Any


def _parse(source: str) -> ast.Module:
    """CPython 3.11's AST constructor can fail spuriously ("recursion depth mismatch") when it
    runs deep in a stack that once overflowed; the same parse succeeds when tried again."""
    for attempt in range(3):
        try:
            return ast.parse(source)
        except SystemError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@functools.cache
def call_sites() -> tuple[CallSite, ...]:
    sites = []
    for path in sorted((ROOT / "workflows").rglob("*.py")):
        relative = path.relative_to(ROOT)
        module = importlib.import_module(".".join(relative.with_suffix("").parts))
        for node in ast.walk(_parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called not in ACTIVITY_CALLS or not node.args:
                continue
            queue = next((k.value for k in node.keywords if k.arg == "task_queue"), None)
            sites.append(
                CallSite(
                    f"{relative}:{node.lineno}", ACTIVITY_CALLS[called], node.args[0], queue, module
                )
            )
    return tuple(sites)


def stub_called(site: CallSite) -> Callable[..., Any] | None:
    """The stub a call site names, or None when it forwards or chooses one at run time."""
    if isinstance(site.activity, ast.Name):
        value = getattr(site.module, site.activity.id, None)
        return value if value in activity_stubs.ALL else None
    return None


def workflow_types_in(module: Any) -> list[str]:
    return [
        _workflow_type(value)
        for value in vars(module).values()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and workflow._Definition.from_class(value) is not None
    ]


def test_no_workflow_names_an_activity_by_a_string() -> None:
    sites = call_sites()
    assert len(sites) >= len(activity_stubs.ALL)
    by_string = [s.where for s in sites if isinstance(s.activity, ast.Constant)]
    assert by_string == []
    unresolved = [
        (s.where, ast.unparse(s.activity))
        for s in sites
        if stub_called(s) is None
        # Forwarded by calls.best_effort or HeartbeatWorkflow._step; chosen from the worker
        # registry for a job's step.
        and ast.unparse(s.activity) not in ("activity", "step.activity", "stub")
    ]
    assert unresolved == []


def test_every_stub_is_called_by_a_workflow() -> None:
    called = {name_of(stub) for s in call_sites() if (stub := stub_called(s)) is not None}
    assert called == set(STUBS)


# --- declarations and implementations ---------------------------------------------------------
def signature(fn: Callable[..., Any]) -> tuple[list[Any], Any]:
    hints = typing.get_type_hints(fn)
    result = hints.pop("return", None)
    return list(hints.values()), result


async def test_each_stub_is_implemented_with_its_signature(composition: Composition) -> None:
    for name, stub in STUBS.items():
        implementations = [acts[name] for acts in composition.activities.values() if name in acts]
        assert implementations, f"{name} is declared but no worker registers it"
        for implementation in implementations:
            assert signature(implementation) == signature(stub), (
                f"{name}: {implementation.__qualname__} takes/returns {signature(implementation)}"
                f", the stub declares {signature(stub)}"
            )


async def test_each_registry_worker_runs_its_step_on_its_queue(composition: Composition) -> None:
    for definition in composition.registry.all():
        registered = composition.activities.get(definition.task_queue, {})
        step = registered.get(definition.step_activity)
        assert step is not None, (
            f"{definition.name}: {definition.step_activity} not on {definition.task_queue}"
        )
        assert signature(step) == ([StepInput], StepOutput), definition.step_activity


# --- queues -----------------------------------------------------------------------------------
async def test_each_call_site_queue_registers_the_activity(composition: Composition) -> None:
    checked = []
    for site in call_sites():
        stub = stub_called(site)
        if stub is None:
            continue
        name = name_of(stub)
        if site.kind == "local":  # runs on the worker of the workflow that calls it
            queues = [composition.queue_of(t) for t in workflow_types_in(site.module)]
            assert queues, f"{site.where}: a local activity outside a workflow module"
        elif isinstance(site.task_queue, ast.Name) and site.task_queue.id.endswith("_QUEUE"):
            queues = [getattr(site.module, site.task_queue.id)]
        else:
            continue  # a queue chosen at run time (the reporting step's): see the histories
        for queue in queues:
            assert name in composition.activities.get(queue, {}), (
                f"{site.where}: {name} is sent to {queue!r}, whose worker does not register it"
            )
            checked.append(name)
    assert len(set(checked)) >= len(STUBS) - 1  # all but reporting.model_summary


def scheduled(path: Path) -> list[tuple[str, str]]:
    """(activity name, task queue) of every activity a recorded run scheduled; a local
    activity's queue is the workflow's own."""
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    own_queue = events[0]["workflowExecutionStartedEventAttributes"]["taskQueue"]["name"]
    out = []
    for event in events:
        if attrs := event.get("activityTaskScheduledEventAttributes"):
            out.append((attrs["activityType"]["name"], attrs["taskQueue"]["name"]))
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_local_activity":
            payload = marker["details"]["data"]["payloads"][0]["data"]
            out.append((json.loads(base64.b64decode(payload))["activity_type"], own_queue))
    return out


@pytest.mark.parametrize(
    "path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem.split("--")[0]
)
async def test_recorded_activities_are_registered_on_their_queues(
    composition: Composition, path: Path
) -> None:
    calls = scheduled(path)
    assert calls, f"{path.name} scheduled no activity"
    for name, queue in calls:
        assert name in composition.activities.get(queue, {}), (
            f"{path.name}: {name} was scheduled on {queue!r}, whose worker does not register it"
        )
