"""Finding the workers: the `heartbeat_operator.workers` entry-point group, plus
`HBO_WORKER_PLUGINS=module:attr,…`, each imported and checked to be a `WorkerDefinition`."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from importlib.metadata import entry_points

from core.domain.registry import WorkerDefinition, WorkerRegistry

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "heartbeat_operator.workers"


def _load_object(spec: str) -> WorkerDefinition:
    module_name, _, attr = spec.partition(":")
    obj = getattr(importlib.import_module(module_name), attr or "WORKER")
    if not isinstance(obj, WorkerDefinition):
        raise TypeError(f"{spec} is not a WorkerDefinition")
    return obj


def discover_workers(extra_specs: Sequence[str] = ()) -> WorkerRegistry:
    workers: list[WorkerDefinition] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception:
            log.exception("worker plugin %s failed to load; skipped", ep.value)
            continue
        if isinstance(obj, WorkerDefinition):
            workers.append(obj)
        else:
            log.error("entry point %s is not a WorkerDefinition; skipped", ep.value)
    for spec in extra_specs:
        workers.append(_load_object(spec))
    return WorkerRegistry(workers)


def load_workers(specs: Sequence[str]) -> WorkerRegistry:
    """A registry of exactly the definitions `specs` name (`module:attr`), importing nothing
    else: what the execution queue's child process loads."""
    return WorkerRegistry([_load_object(spec) for spec in specs])


def worker_specs(queues: Sequence[str], extra_specs: Sequence[str] = ()) -> list[str]:
    """`module:attr` of every discovered definition on `queues` (entry points, then
    `extra_specs`), for a process that should load only those."""
    specs = [ep.value for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)]
    out = []
    for spec in [*specs, *extra_specs]:
        try:
            definition = _load_object(spec)
        except Exception:
            continue  # discover_workers logs it; a worker that does not load is not started
        if definition.task_queue in queues and spec not in out:
            out.append(spec)
    return out
