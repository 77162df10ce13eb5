"""Process entry point (`hbo`): the embedded stack, the workers, the bot.

hbo up                      dev server (unless TEMPORAL_ADDRESS) + all workers + bot/console
hbo worker [--queue NAME]   Temporal workers for some task queues (default: all)
hbo isolated-worker …       (internal) the execution queue's child process, without secrets
hbo bot                     the Telegram bot only (a Temporal client)
hbo heartbeat …             heartbeat targets: list, show, set, on/off, fire, infer
python worker_main.py --queue execution   same as `hbo worker --queue execution`

The execution queue (commands) never runs in a process that holds the bot token or API keys:
`hbo up` and `hbo worker` run it in a supervised child started with an environment and settings
without them (settings come over its stdin, never from `.env`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.worker import Worker

import isolated_worker
from activities.audit import AuditActivities
from activities.heartbeat.agent import AgentActivities
from activities.heartbeat.changes import ChangeActivities
from activities.heartbeat.deps import HeartbeatDeps
from activities.heartbeat.digest import DigestActivities
from activities.heartbeat.run import HeartbeatActivities
from activities.notify import NotifyActivities
from activities.sandbox import choose_sandbox, close_secret_file
from activities.schedule_approval import ScheduleApprovalActivities
from activities.stats import StatsActivities
from activities.telegram.sender import Sender, build_sender
from bot.console import CONSOLE_CHAT_ID, run_console
from bot.heartbeat import cli as heartbeat_cli
from bot.operator import Operator, OperatorDeps
from core.db import Database
from core.devserver import DevServer, DevServerError, from_settings
from core.health import (
    OpsPortError,
    OpsServer,
    Readiness,
    bot_poll_check,
    database_check,
    exporter_check,
    temporal_check,
    workers_check,
)
from core.heartbeat.schedules import HeartbeatSchedules, private_chats
from core.logs import setup_logging
from core.metrics import free_loopback_port, install_sdk_metrics
from core.process import scrub_environ_block, secret_free_env, set_not_dumpable, supervise
from core.registry import WorkerRegistry, discover_workers, worker_specs
from core.settings import SECRET_ENV_NAMES, Settings, load_settings
from core.store import AuditLog, ChatStore, ReportLedgerStore, utcnow
from core.temporal import (
    ALL_QUEUES,
    EXECUTION_QUEUE,
    NOTIFY_QUEUE,
    OPERATOR_QUEUE,
    REPORTING_QUEUE,
    connect,
    ensure_search_attributes,
)
from isolated_worker import cmd_isolated_worker as cmd_isolated_worker
from isolated_worker import isolated_settings as isolated_settings
from isolated_worker import make_worker
from workflows.heartbeat.digest import JobDigestWorkflow
from workflows.heartbeat.workflow import HeartbeatWorkflow
from workflows.job import JobWorkflow
from workflows.schedule_approval import ScheduleApprovalWorkflow
from workflows.stats import StatsWorkflow

log = logging.getLogger("hbo")

# The bot is unready when its last successful getUpdates is older than the long-poll timeout
# plus this.
BOT_POLL_SLACK_SECONDS = 60.0

# Task queues whose workers run commands: each runs in a child process without the secrets.
ISOLATED_QUEUES = (EXECUTION_QUEUE,)
SCRIPT = os.path.abspath(__file__)
ISOLATED_SCRIPT = os.path.abspath(isolated_worker.__file__)


@dataclass
class Runtime:
    """Shared resources of one process."""

    settings: Settings
    client: Client
    db: Database
    registry: WorkerRegistry

    @property
    def ledger(self) -> ReportLedgerStore:
        return ReportLedgerStore(self.db)

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.db)

    @property
    def chats(self) -> ChatStore:
        return ChatStore(self.db)

    def operator(self, settings: Settings | None = None) -> Operator:
        """The chat operator over this process's resources (optionally other settings)."""
        return Operator(
            OperatorDeps(
                settings=settings or self.settings,
                client=self.client,
                registry=self.registry,
                chats=self.chats,
                ledger=self.ledger,
                audit=self.audit,
            )
        )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, client: Client | None = None) -> AsyncIterator[Runtime]:
    db = Database(settings.database_url)
    await db.migrate()
    client = client or await connect(settings)
    added = await ensure_search_attributes(client)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    try:
        yield Runtime(settings, client, db, discover_workers(settings.worker_plugins))
    finally:
        await db.close()


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
            _worker(
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


_worker = make_worker


async def run_workers(
    runtime: Runtime,
    queues: Sequence[str],
    stop: asyncio.Event,
    sender: Sender,
    readiness: Readiness | None = None,
) -> None:
    workers = build_workers(runtime, queues, sender)
    if readiness is not None:
        readiness.workers = workers
    if OPERATOR_QUEUE in queues:
        await _sync_heartbeats(runtime)
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    if workers:
        log.info("workers polling: %s", ", ".join(w.task_queue for w in workers))
    try:
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception():
                raise task.exception()  # type: ignore[misc]
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        await sender.close()


def split_queues(queues: Sequence[str]) -> tuple[list[str], list[str]]:
    """(queues this process polls, queues for the secret-free child)."""
    return [q for q in queues if q not in ISOLATED_QUEUES], [
        q for q in queues if q in ISOLATED_QUEUES
    ]


async def run_isolated(
    settings: Settings,
    queues: Sequence[str],
    stop: asyncio.Event,
    *,
    log_to_file: bool = False,
    sdk_metrics_port: int | None = None,
) -> None:
    """Workers for `queues` (not empty) in a supervised child process without the secrets: its
    environment is a short allowlist without them, its settings come over stdin (the Temporal
    API key only when one is set, as Temporal needs it), and it never reads `.env`."""
    argv = [sys.executable, ISOLATED_SCRIPT, "isolated-worker"]
    for queue in queues:
        argv += ["--queue", queue]
    # Only the definitions on its queues: the child imports nothing else (its memory).
    for spec in worker_specs(queues, settings.worker_plugins):
        argv += ["--worker", spec]
    if log_to_file:
        argv.append("--log-to-file")
    if sdk_metrics_port is not None:
        argv += ["--sdk-metrics-port", str(sdk_metrics_port)]
    if EXECUTION_QUEUE in queues:
        sandbox = await asyncio.to_thread(choose_sandbox, settings)
        print(f"Commands run {sandbox.describe()}", flush=True)
    values = settings.without_secrets()
    if settings.temporal_api_key is not None:
        values["TEMPORAL_API_KEY"] = settings.temporal_api_key.get_secret_value()
    await supervise(
        f"the {'/'.join(queues)} worker process",
        argv,
        env=secret_free_env(settings.execution_env_allowlist, SECRET_ENV_NAMES),
        stdin_data=json.dumps(values).encode(),
        stop=stop,
    )


def heartbeat_private_chats(settings: Settings) -> list[int]:
    """The private chats with a heartbeat from start-up: the allowed people's, or the console's."""
    return private_chats(settings, CONSOLE_CHAT_ID)


async def _sync_heartbeats(runtime: Runtime) -> None:
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


async def run_chat(
    runtime: Runtime, stop: asyncio.Event, readiness: Readiness | None = None
) -> None:
    operator = runtime.operator()
    if runtime.settings.console_mode:
        await run_console(operator, stop)
    else:
        # Imported here: python-telegram-bot is loaded only when there is a bot to run.
        from bot.telegram_app import build_application, run_telegram

        app = build_application(
            runtime.settings, operator, on_poll=readiness.polled if readiness else None
        )
        await run_telegram(app, stop, runtime.settings.telegram_poll_timeout)


@dataclass
class Ops:
    """This process's `/metrics`, `/healthz`, `/readyz` (when HBO_METRICS_PORT is set): the
    SDK exporters it merges (its own, the isolated child's) and what readiness looks at."""

    settings: Settings
    readiness: Readiness
    sdk_port: int | None = None
    child_sdk_port: int | None = None
    server: OpsServer | None = None

    @classmethod
    def prepare(cls, settings: Settings, process: str, *, child: bool = False) -> Ops:
        """Before any Temporal client connects: the SDK's runtime exports its metrics."""
        ops = cls(settings, Readiness())
        if settings.metrics_port is None:
            return ops
        ops.sdk_port = free_loopback_port()
        install_sdk_metrics(ops.sdk_port, process=process)
        if child:
            ops.child_sdk_port = free_loopback_port()
        return ops

    @contextlib.asynccontextmanager
    async def serving(self, runtime: Runtime, *, workers: bool, bot: bool) -> AsyncIterator[None]:
        if self.settings.metrics_port is None:
            yield
            return
        checks = self.readiness.checks
        checks["temporal"] = temporal_check(runtime.client)
        checks["database"] = database_check(runtime.db)
        if workers:
            checks["workers"] = workers_check(self.readiness)
        if self.child_sdk_port is not None:
            checks["isolated_worker"] = exporter_check(
                self.child_sdk_port, "the execution worker process"
            )
        if bot and not self.settings.console_mode:
            bound = self.settings.telegram_poll_timeout + BOT_POLL_SLACK_SECONDS
            checks["bot"] = bot_poll_check(self.readiness, bound)
        ports = [p for p in (self.sdk_port, self.child_sdk_port) if p is not None]
        self.server = OpsServer(
            self.settings.metrics_host, self.settings.metrics_port, self.readiness, ports
        )
        await self.server.start()
        log.info("metrics and health on %s", self.server.url)
        try:
            yield
        finally:
            await self.server.stop()


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def _until_stopped(stop: asyncio.Event, *coros: Any) -> bool:
    """Run the components until `stop` or until one ends; True when one failed."""
    tasks = [asyncio.create_task(c) for c in coros]
    failed = False
    try:
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and not task.cancelled() and task.exception():
                log.error("a component stopped: %r", task.exception())
                failed = True
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return failed


async def cmd_up(settings: Settings) -> int:
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    ops = Ops.prepare(settings, "up", child=True)
    server: DevServer | None = None
    if settings.temporal_address is None:
        server = from_settings(settings)
        print(
            f"Starting the Temporal dev server ({server.binary}) on {server.target} …", flush=True
        )
        await server.start()
        print(f"Temporal Web UI: {server.ui_url}", flush=True)
    try:
        async with (
            open_runtime(settings) as runtime,
            ops.serving(runtime, workers=True, bot=True),
        ):
            mode = "console chat" if settings.console_mode else "Telegram bot"
            print(
                f"Workers on {', '.join(ALL_QUEUES)}; {mode}; data in {settings.data_path}",
                flush=True,
            )
            if ops.server is not None:
                print(f"Metrics: {ops.server.url} (health: /healthz, /readyz)", flush=True)
            local, isolated = split_queues(all_queues(runtime.registry))
            await _until_stopped(
                stop,
                run_workers(runtime, local, stop, build_sender(settings), ops.readiness),
                run_chat(runtime, stop, ops.readiness),
                *(
                    [
                        run_isolated(
                            settings,
                            isolated,
                            stop,
                            log_to_file=settings.console_mode,
                            sdk_metrics_port=ops.child_sdk_port,
                        )
                    ]
                    if isolated
                    else []
                ),
            )
    finally:
        if server is not None:
            await server.stop()
        print("Stopped.", flush=True)
    return 0


def all_queues(registry: WorkerRegistry) -> list[str]:
    return list(dict.fromkeys([*ALL_QUEUES, *registry.task_queues()]))


async def cmd_worker(settings: Settings, queues: Sequence[str] | None) -> int:
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    ops = Ops.prepare(settings, "worker", child=not queues or bool(split_queues(queues)[1]))
    async with open_runtime(settings) as runtime, ops.serving(runtime, workers=True, bot=False):
        known = all_queues(runtime.registry)
        unknown = [q for q in queues or [] if q not in known]
        if unknown:
            print(
                f"Unknown task queue(s): {', '.join(unknown)}; known: {', '.join(known)}",
                file=sys.stderr,
            )
            return 2
        local, isolated = split_queues(queues or known)
        failed = await _until_stopped(
            stop,
            run_workers(runtime, local, stop, build_sender(settings), ops.readiness),
            *(
                [run_isolated(settings, isolated, stop, sdk_metrics_port=ops.child_sdk_port)]
                if isolated
                else []
            ),
        )
    return 1 if failed else 0


async def cmd_bot(settings: Settings) -> int:
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    ops = Ops.prepare(settings, "bot")
    async with open_runtime(settings) as runtime, ops.serving(runtime, workers=False, bot=True):
        await run_chat(runtime, stop, ops.readiness)
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hbo", description="Heartbeat Operator")
    # `isolated-worker` is internal (the execution queue's child process): not listed.
    sub = parser.add_subparsers(dest="command", required=True, metavar="{up,worker,bot,heartbeat}")
    sub.add_parser("up", help="dev server + all workers + bot (or console chat) in one process")
    worker = sub.add_parser("worker", help="run Temporal workers")
    worker.add_argument(
        "--queue",
        action="append",
        help="task queue to poll (repeatable; default: operator + every registered worker's)",
    )
    sub.add_parser("bot", help="run the Telegram bot (or console chat) only")
    isolated_worker.add_arguments(sub.add_parser("isolated-worker"))
    heartbeat_cli.add_parser(sub)
    if argv and argv[0].startswith("--queue"):  # `python worker_main.py --queue execution`
        argv = ["worker", *argv]
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The `hbo` program. Run as the program itself (no `argv` given), it leaves without the
    interpreter's teardown once everything is stopped: see `_leave`."""
    code = _main(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        _leave(code)
    return code


def _leave(code: int) -> NoReturn:
    """Exit at once, after flushing logs and output. The Temporal SDK's native threads can still
    call into Python while a finishing interpreter tears itself down, which aborts the process
    (SIGABRT, exit status 134) after an otherwise clean stop — a supervisor would count that as
    a crash. Our own resources (workers, database, dev server) are closed by the time we get
    here, so skipping the teardown loses nothing."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    set_not_dumpable()  # this process may hold the secrets: keep /proc/<pid>/* to itself
    scrub_environ_block(SECRET_ENV_NAMES)  # and out of /proc/<pid>/environ, even for root
    if args.command == "isolated-worker":
        return isolated_worker.run(args)
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings, to_file=args.command == "up" and settings.console_mode)
    # This process holds the secrets: so should `.env` alone (commands never run as this user
    # when it is root, and other local users have no business reading it either).
    close_secret_file(Path(".env"))
    if args.command == "heartbeat":
        # A CLI answer comes first: the migration check at start-up is not news.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command == "up":
            return asyncio.run(cmd_up(settings))
        if args.command == "worker":
            return asyncio.run(cmd_worker(settings, args.queue))
        if args.command == "heartbeat":
            return asyncio.run(
                heartbeat_cli.run(settings, args, private=heartbeat_private_chats(settings))
            )
        return asyncio.run(cmd_bot(settings))
    except (DevServerError, OpsPortError) as exc:
        print(f"Cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    except RuntimeError as exc:
        if not str(exc).startswith("Failed client connect"):
            raise
        where = settings.temporal_address or f"127.0.0.1:{settings.temporal_dev_port}"
        print(
            f"Cannot reach Temporal at {where}: start it with `hbo up` (which embeds a dev "
            "server), or set TEMPORAL_ADDRESS to a running server.",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
