"""The execution queue's child process (`hbo isolated-worker`): Temporal workers for the queues
that run commands, in a process that holds no secret.

Started by `hbo.isolated.run_isolated` as `python -m hbo.isolated_worker isolated-worker --queue
Q --worker module:attr …`: a module of its own, so the child imports only what running commands
needs — the Temporal SDK, the settings, and the worker definitions it is given (`--worker`, the
ones on its queues) — and not the bot, the LLM clients, the database or the charts the parent
holds. That is most of its memory (see docs/decisions/053-repeats-judged-by-cause-and-a-lean-
execution-child.md). With no `--worker`, every registered worker is loaded, as before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from core.domain.registry import WorkerRegistry
from core.io.logs import setup_logging
from core.io.plugins import discover_workers, load_workers
from core.io.process import release_free_heap_until, scrub_environ_block, set_not_dumpable
from core.io.settings import SECRET_ENV_NAMES, Settings
from core.io.temporal import connect
from hbo.lifecycle import install_signal_handlers, leave, poll_until_stopped

log = logging.getLogger("hbo")


# Workflow tasks a worker takes at a time. A task counts from the moment the worker polls it, so
# with the SDK's default (100) a herd of due heartbeats sat inside one worker for seconds each
# (TMPRL1104); with a few, the rest wait on the server, where waiting costs no task time.
WORKFLOW_TASK_SLOTS = 4
# A workflow task waits this long on the sticky queue of the worker that ran the workflow last
# before any worker may take it (SDK default: 10 s). When that worker was killed, every task of
# its workflows waited out the whole default — a job's result held back after its card's edit or
# an earlier message came back — while a restarted or second worker sat idle.
STICKY_SCHEDULE_TO_START = timedelta(seconds=3)


def make_worker(
    client: Client,
    queue: str,
    workflows: list[type],
    activities: list[Any],
    activities_per_second: float | None = None,
) -> Worker:
    """A worker as every `hbo` process runs one (the parent's and this child's alike)."""
    return Worker(
        client,
        task_queue=queue,
        workflows=workflows,
        activities=activities,
        # Cancellation reaches an activity with its heartbeat response: keep it prompt.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=3),
        max_task_queue_activities_per_second=activities_per_second,
        max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
        sticky_queue_schedule_to_start_timeout=STICKY_SCHEDULE_TO_START,
    )


def isolated_settings(raw: bytes) -> Settings:
    """The child's settings: the JSON its parent wrote, never a `.env` file."""
    return Settings(_env_file=None, **json.loads(raw or b"{}"))  # type: ignore[call-arg]


def _registry(settings: Settings, specs: Sequence[str]) -> WorkerRegistry:
    return load_workers(specs) if specs else discover_workers(settings.worker_plugins)


async def cmd_isolated_worker(
    queues: Sequence[str],
    *,
    log_to_file: bool,
    sdk_metrics_port: int | None = None,
    workers: Sequence[str] = (),
) -> int:
    """Settings from stdin only, workers without a database; refuses to start with a secret in
    its environment."""
    present = [name for name in SECRET_ENV_NAMES if name in os.environ]
    if present:
        print(f"isolated-worker refuses to start with {', '.join(present)} set", file=sys.stderr)
        return 2
    settings = isolated_settings(sys.stdin.buffer.read())
    setup_logging(settings, to_file=log_to_file)
    if sdk_metrics_port is not None:  # read and served by the parent's /metrics
        # Imported only here: its HTTP client and Prometheus modules are a fifth of an idle
        # child's memory, and `make run` serves no metrics.
        from core.io.metrics import install_sdk_metrics

        install_sdk_metrics(sdk_metrics_port, process="isolated-worker")
    stop = asyncio.Event()
    install_signal_handlers(stop)
    client = await connect(settings)
    registry = _registry(settings, workers)
    running = []
    for queue in queues:
        activities = [
            activity
            for definition in registry.all()
            if definition.task_queue == queue
            for activity in definition.activities(settings)
        ]
        running.append(make_worker(client, queue, [], activities))
    log.info("workers polling (isolated, pid %s): %s", os.getpid(), ", ".join(queues))
    releasing = asyncio.create_task(release_free_heap_until(stop))
    failures = await poll_until_stopped(running, stop)
    stop.set()
    await releasing
    for failure in failures:
        log.error("an isolated worker stopped: %r", failure)
    return 1 if failures else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", action="append", required=True)
    parser.add_argument("--log-to-file", action="store_true")
    parser.add_argument("--sdk-metrics-port", type=int)
    parser.add_argument(
        "--worker", action="append", default=[], help="module:attr of a worker definition"
    )


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(
            cmd_isolated_worker(
                args.queue,
                log_to_file=args.log_to_file,
                sdk_metrics_port=args.sdk_metrics_port,
                workers=args.worker,
            )
        )
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hbo isolated-worker")
    parser.add_argument("command", choices=["isolated-worker"])
    add_arguments(parser)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    set_not_dumpable()
    scrub_environ_block(SECRET_ENV_NAMES)
    return run(args)


if __name__ == "__main__":
    # As `hbo` does: skip the interpreter's teardown, which the SDK's native threads can abort.
    leave(main())
