"""The workers this process polls: what each task queue's worker runs (the registry's
activities, and the operator queue's workflows, notify and heartbeat activities that need this
process's client, database and sender), and running them until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.heartbeat.agent import AgentActivities
from activities.heartbeat.changes import ChangeActivities
from activities.heartbeat.deps import HeartbeatDeps
from activities.heartbeat.digest import DigestActivities
from activities.heartbeat.run import HeartbeatActivities
from activities.live_card import LiveCardActivities
from activities.notify import NotifyActivities
from activities.schedule_approval import ScheduleApprovalActivities
from activities.stats import StatsActivities
from activities.telegram.sender import Sender
from bot.console import CONSOLE_CHAT_ID
from core.domain.registry import WorkerRegistry
from core.domain.temporal_names import (
    ALL_QUEUES,
    EXECUTION_QUEUE,
    NOTIFY_QUEUE,
    OPERATOR_QUEUE,
    REPORTING_QUEUE,
)
from core.io.health import Readiness
from core.io.heartbeat.schedules import HeartbeatSchedules, private_chats
from core.io.settings import Settings
from core.io.store import utcnow
from hbo.isolated_worker import make_worker
from hbo.lifecycle import poll_until_stopped
from hbo.runtime import Runtime
from workflows.heartbeat.digest import JobDigestWorkflow
from workflows.heartbeat.workflow import HeartbeatWorkflow
from workflows.job import JobWorkflow
from workflows.schedule_approval import ScheduleApprovalWorkflow
from workflows.stats import StatsWorkflow

log = logging.getLogger("hbo")

# Task queues whose workers run commands: each runs in a child process without the secrets.
ISOLATED_QUEUES = (EXECUTION_QUEUE,)


def all_queues(registry: WorkerRegistry) -> list[str]:
    return list(dict.fromkeys([*ALL_QUEUES, *registry.task_queues()]))


def split_queues(queues: Sequence[str]) -> tuple[list[str], list[str]]:
    """(queues this process polls, queues for the secret-free child)."""
    return [q for q in queues if q not in ISOLATED_QUEUES], [
        q for q in queues if q in ISOLATED_QUEUES
    ]


def build_workers(
    runtime: Runtime,
    queues: Sequence[str],
    sender: Sender,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> list[Worker]:
    """One Temporal worker per task queue; registry workers sharing a queue share a worker."""
    activities, workflows = queue_contents(runtime, queues, sender, clock)
    workers = []
    for queue in activities:
        if not activities[queue] and not workflows[queue]:
            log.warning("no worker is registered for task queue %r; not polling it", queue)
            continue
        workers.append(
            make_worker(
                runtime.client,
                queue,
                workflows[queue],
                activities[queue],
                # Telegram's bot-wide limit, enforced by the server across every process that
                # polls the notify queue (each bot also limits itself in-process).
                activities_per_second=(
                    float(runtime.settings.telegram_max_messages_per_second)
                    if queue == NOTIFY_QUEUE
                    else None
                ),
            )
        )
    return workers


def queue_contents(
    runtime: Runtime, queues: Sequence[str], sender: Sender, clock: Callable[[], datetime]
) -> tuple[dict[str, list[Any]], dict[str, list[type]]]:
    """The activities and workflows each task queue's worker runs. The operator queue brings
    the notify queue with it: both need this process's client, database and sender."""
    activities: dict[str, list[Any]] = {q: [] for q in queues}
    for definition in runtime.registry.all():
        if definition.task_queue in activities:
            activities[definition.task_queue].extend(definition.activities(runtime.settings))
    workflows: dict[str, list[type]] = {q: [] for q in queues}
    if OPERATOR_QUEUE in activities:
        notify = NotifyActivities(sender, runtime.ledger, runtime.audit)
        activities[NOTIFY_QUEUE] = [
            notify.send,
            notify.job_update,
            notify.edit_card,
            notify.add_summary,
            notify.send_photo,
            LiveCardActivities(sender, runtime.settings, runtime.group_minute).live_card,
        ]
        workflows[NOTIFY_QUEUE] = []
        heartbeat = HeartbeatDeps(
            runtime.settings, runtime.client, runtime.db, runtime.registry, sender, clock=clock
        )
        activities[OPERATOR_QUEUE] += [
            AuditActivities(runtime.audit).job_event,
            ScheduleApprovalActivities(runtime.client).settle_approval,
            *heartbeat_activities(heartbeat),
        ]
        workflows[OPERATOR_QUEUE] += [
            ScheduleApprovalWorkflow,
            JobWorkflow,
            StatsWorkflow,
            HeartbeatWorkflow,
            JobDigestWorkflow,
        ]
    if REPORTING_QUEUE in activities:
        # `/stats` reads visibility and the ledger, so it needs this process's client and
        # database beside the reporting worker's own activities.
        activities[REPORTING_QUEUE].append(
            StatsActivities(runtime.client, runtime.ledger).render_stats
        )
    return activities, workflows


def heartbeat_activities(deps: HeartbeatDeps) -> list[Callable[..., Any]]:
    """Every activity the operator task queue runs for heartbeats."""
    changes = ChangeActivities(deps)
    return [
        *HeartbeatActivities(deps).all(),
        changes.gather_changes,
        changes.report_changes,
        AgentActivities(deps).run_agent,
        DigestActivities(deps).job_digest,
    ]


async def run_workers(
    runtime: Runtime,
    queues: Sequence[str],
    stop: asyncio.Event,
    sender: Sender,
    readiness: Readiness | None = None,
) -> None:
    """Poll `queues` until `stop`; a worker that fails stops them all and is raised."""
    workers = build_workers(runtime, queues, sender)
    if readiness is not None:
        readiness.workers = workers
    # Beside the polling, not before it: a restarted operator takes up the job messages a
    # killed one left at once, not after one schedule call per heartbeat target.
    sync = asyncio.create_task(sync_heartbeats(runtime)) if OPERATOR_QUEUE in queues else None
    if workers:
        log.info("workers polling: %s", ", ".join(w.task_queue for w in workers))
    try:
        failures = await poll_until_stopped(workers, stop)
    finally:
        if sync is not None:
            sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sync
        await sender.close()
    if failures:
        raise failures[0]


def heartbeat_private_chats(settings: Settings) -> list[int]:
    """The private chats with a heartbeat from start-up: the allowed people's, or the console's."""
    return private_chats(settings, CONSOLE_CHAT_ID)


async def sync_heartbeats(runtime: Runtime) -> None:
    """The heartbeats that exist from the start (configured group targets, the allowed people's
    private chats or the console chat) and any schedule a target lacks. Provisioning is done
    here, never while a person waits for an answer."""
    schedules = HeartbeatSchedules(runtime.settings, runtime.client, runtime.db)
    try:
        changed = await schedules.sync_all(heartbeat_private_chats(runtime.settings))
    except Exception:  # the workers still start; `hbo heartbeat sync` retries by hand
        log.exception("heartbeat schedules could not be synced")
        return
    if changed:
        log.info("heartbeats: %s", "; ".join(changed))
