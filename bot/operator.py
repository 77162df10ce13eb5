"""The operator: one transport-agnostic object that takes a person's message (or button press)
and returns replies. Telegram and the console chat are thin transports over it.

Modes (DESIGN.md §3): intake (commands → JobSpec), dispatch (registry picks the worker and says
why), status (from Temporal), recovery (cancel / retry / reroute). The heartbeat reports from its
own workflow, sharing the report ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TTLCache
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionDescription

from core.ids import normalize_job_id
from core.jobs import JobSpec
from core.registry import WorkerDefinition, WorkerRegistry
from core.render import esc
from core.settings import Settings
from core.store import AuditLog, ChatStore, ReportLedgerStore
from core.temporal import SA_REPORT_CHAT_ID

from . import views
from .job_client import JobActionError, JobClient, JobNotFoundError
from .planner import PlanError, Planner
from .types import Incoming, Reply

log = logging.getLogger(__name__)

REFUSAL_INTERVAL_SECONDS = 600
MAX_MESSAGE_CHARS = 4000

Handler = Callable[[Incoming, str], Awaitable[list[Reply]]]


@dataclass
class OperatorDeps:
    settings: Settings
    client: Client
    registry: WorkerRegistry
    chats: ChatStore
    ledger: ReportLedgerStore
    audit: AuditLog


class Operator:
    def __init__(self, deps: OperatorDeps) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.registry = deps.registry
        self.jobs = JobClient(deps.client, deps.registry)
        self.planner = Planner(deps.registry, deps.settings)
        self._refused: TTLCache[int, float] = TTLCache(maxsize=10_000, ttl=REFUSAL_INTERVAL_SECONDS)
        self.commands: dict[str, Handler] = {
            "start": self._help,
            "help": self._help,
            "exec": self._exec,
            "research": self._research,
            "jobs": self._jobs,
            "job": self._job,
            "cancel": self._cancel,
            "retry": self._retry,
            "reroute": self._reroute,
            "workers": self._workers,
        }

    # --- entry points ----------------------------------------------------------------------
    async def handle(self, msg: Incoming) -> list[Reply]:
        refusal = await self._gate(msg)
        if refusal is not None:
            return refusal
        await self.deps.chats.touch(msg.chat_id, chat_type=msg.chat_type, user_id=msg.user_id)
        try:
            if msg.callback_data is not None:
                return await self._button(msg, msg.callback_data)
            return await self._text(msg, (msg.text or "").strip())
        except (PlanError, JobActionError, JobNotFoundError, LookupError) as exc:
            return [Reply(text=f"⚠️ {esc(exc)}")]

    async def _gate(self, msg: Incoming) -> list[Reply] | None:
        """Strangers get one refusal per interval (naming their id) and an audit entry; nothing
        they send goes further."""
        if msg.trusted:
            return None
        if self.settings.is_allowed_user(msg.user_id) and self.settings.is_allowed_chat(
            msg.chat_id, msg.chat_type
        ):
            return None
        detail = (msg.text or msg.callback_data or "")[:200]
        await self.deps.audit.record(
            "refused", user_id=msg.user_id, chat_id=msg.chat_id, detail=detail
        )
        key = msg.user_id if msg.user_id is not None else msg.chat_id
        if key in self._refused or msg.callback_data is not None:
            return []  # already told them recently; button presses are ignored silently
        self._refused[key] = time.monotonic()
        if not self.settings.is_allowed_user(msg.user_id):
            text = (
                "⛔ This operator is private. "
                f"Your Telegram user id is <code>{msg.user_id}</code>; "
                "the owner can add it to TELEGRAM_ALLOWED_USER_IDS."
            )
        else:
            text = (
                f"⛔ This group is not allowed. Its chat id is <code>{msg.chat_id}</code>; "
                "the owner can add it to TELEGRAM_ALLOWED_CHAT_IDS."
            )
        return [Reply(text=text)]

    async def _text(self, msg: Incoming, text: str) -> list[Reply]:
        if len(text) > MAX_MESSAGE_CHARS:
            return [
                Reply(
                    text=f"⚠️ That message is too long ({len(text)} characters; the limit "
                    f"is {MAX_MESSAGE_CHARS}). Nothing was started."
                )
            ]
        if not text.startswith("/"):
            return [Reply(text="I work with commands for now.\n\n" + views.help_text())]
        head, _, args = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        handler = self.commands.get(name)
        if handler is None:
            return [Reply(text=f"Unknown command /{esc(name)}.\n\n" + views.help_text())]
        return await handler(msg, args.strip())

    async def _button(self, msg: Incoming, data: str) -> list[Reply]:
        action, _, job_id = data.partition(":")
        if action not in ("cancel", "retry", "reroute", "job") or not job_id:
            return [Reply(text="⚠️ That button is no longer valid.", toast="not valid")]
        if action == "reroute":
            return [self._reroute_choices(job_id)]
        if action == "job":
            return await self._job(msg, job_id)
        replies = await self.commands[action](msg, job_id)
        for reply in replies:
            reply.toast = reply.toast or action
        return replies

    # --- intake + dispatch -------------------------------------------------------------------
    async def _start_job(self, msg: Incoming, spec: JobSpec, why: str) -> list[Reply]:
        worker = self.registry.get(spec.main_step.worker)
        # The card below is this job's "running" report: record it so nobody repeats it.
        await self.deps.ledger.mark_reported(spec.job_id, spec.report_chat_id, "running")
        await self.jobs.start(spec)
        log.info("job %s started for chat %s on %s", spec.job_id, spec.report_chat_id, worker.name)
        return [views.job_card_reply(spec, worker, why)]

    def _origin(self, msg: Incoming) -> dict[str, int | None]:
        return {"chat_id": msg.chat_id, "topic_id": msg.topic_id, "requested_by": msg.user_id}

    async def _exec(self, msg: Incoming, args: str) -> list[Reply]:
        spec = self.planner.exec_job(args, **self._origin(msg))
        return await self._start_job(msg, spec, "/exec runs a command on the execution worker")

    async def _research(self, msg: Incoming, args: str) -> list[Reply]:
        spec = self.planner.research_job(args, **self._origin(msg))
        return await self._start_job(msg, spec, "/research gathers notes on the research worker")

    # --- status ------------------------------------------------------------------------------
    async def _jobs(self, msg: Incoming, args: str) -> list[Reply]:
        query = f"WorkflowType = 'JobWorkflow' AND ReportChatId = {msg.chat_id}"
        jobs = await self.jobs.list(query, limit=15)
        total = await self.jobs.count(query)
        return [Reply(text=views.job_list("Recent jobs", jobs, total))]

    async def _job(self, msg: Incoming, args: str) -> list[Reply]:
        if not args:
            return [Reply(text="usage: /job <id>, for example /job job-abc123")]
        job_id = normalize_job_id(args.split()[0])
        status, desc = await self.jobs.status(job_id)
        if not self._owns(msg, desc):
            raise JobNotFoundError(f"no job {job_id} in this chat")
        return [views.job_detail(status, desc)]

    def _owns(self, msg: Incoming, desc: WorkflowExecutionDescription) -> bool:
        chat = desc.typed_search_attributes.get(SA_REPORT_CHAT_ID)
        return msg.trusted or chat is None or chat == msg.chat_id

    # --- recovery ----------------------------------------------------------------------------
    async def _checked_job(self, msg: Incoming, args: str, usage: str) -> str:
        if not args:
            raise PlanError(f"usage: {usage}")
        job_id = normalize_job_id(args.split()[0])
        desc = await self.jobs.describe(job_id)
        if not self._owns(msg, desc):
            raise JobNotFoundError(f"no job {job_id} in this chat")
        return job_id

    async def _cancel(self, msg: Incoming, args: str) -> list[Reply]:
        job_id = await self._checked_job(msg, args, "/cancel <id>")
        await self.jobs.cancel(job_id)
        await self.deps.audit.record(
            "cancel", user_id=msg.user_id, chat_id=msg.chat_id, detail=job_id
        )
        return [
            Reply(
                text=f"⏹ Cancelling <b>{esc(job_id)}</b>; I'll confirm when it has stopped.",
                job_id=job_id,
            )
        ]

    async def _retry(self, msg: Incoming, args: str) -> list[Reply]:
        job_id = await self._checked_job(msg, args, "/retry <id>")
        result = await self.jobs.retry(job_id, msg.user_id)
        await self.deps.audit.record(
            "retry", user_id=msg.user_id, chat_id=msg.chat_id, detail=job_id
        )
        return [Reply(text=f"🔁 <b>{esc(job_id)}</b>: {esc(result)}.", job_id=job_id)]

    async def _reroute(self, msg: Incoming, args: str) -> list[Reply]:
        parts = args.split()
        if len(parts) < 2:
            if parts:
                return [self._reroute_choices(normalize_job_id(parts[0]))]
            raise PlanError(
                "usage: /reroute <id> <worker>, for example /reroute job-abc123 execution"
            )
        job_id = await self._checked_job(msg, parts[0], "/reroute <id> <worker>")
        result = await self.jobs.reroute(job_id, parts[1], msg.user_id)
        await self.deps.audit.record(
            "reroute", user_id=msg.user_id, chat_id=msg.chat_id, detail=f"{job_id} {parts[1]}"
        )
        return [Reply(text=f"↪️ <b>{esc(job_id)}</b>: {esc(result)}.", job_id=job_id)]

    def _reroute_choices(self, job_id: str) -> Reply:
        names = ", ".join(
            f"<code>/reroute {esc(job_id)} {esc(n)}</code>" for n in self.registry.names()
        )
        return Reply(text=f"Which worker should take the step of <b>{esc(job_id)}</b>? {names}")

    # --- dispatch view -------------------------------------------------------------------------
    async def worker_status(self) -> list[tuple[WorkerDefinition, bool | None]]:
        out: list[tuple[WorkerDefinition, bool | None]] = []
        for worker in self.registry.all():
            out.append((worker, await self.has_pollers(worker.task_queue)))
        return out

    async def has_pollers(self, task_queue: str) -> bool | None:
        try:
            response = await self.deps.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.deps.client.namespace,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                )
            )
        except Exception:
            log.exception("describe_task_queue %s failed", task_queue)
            return None
        return len(response.pollers) > 0

    async def _workers(self, msg: Incoming, args: str) -> list[Reply]:
        return [Reply(text=views.workers_text(await self.worker_status()))]

    async def _help(self, msg: Incoming, args: str) -> list[Reply]:
        return [Reply(text=views.help_text())]
