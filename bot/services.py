"""What chat commands share: the clients (jobs, schedules, heartbeats), the planner, and the
helpers that start a job once its card is posted. The operator (`bot/operator.py`) is these plus
the gate and the routing of a message to a command."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cachetools import TTLCache
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionDescription

from bot import uploads, views
from bot.heartbeat.admin import HeartbeatAdmin
from bot.types import Attachment, Incoming, Reply
from bot.uploads import Fetcher, Upload
from core.domain.ids import normalize_job_id, request_job_id, workspace_name
from core.domain.jobs.messages import buttons_message_id
from core.domain.jobs.models import Approval, JobSpec, JobState
from core.domain.jobs.planner import PlanError, Planner
from core.domain.registry import WorkerDefinition, WorkerRegistry
from core.domain.temporal_names import SA_REPORT_CHAT_ID
from core.io.jobs.client import JobClient, JobNotFoundError, no_job_in_chat
from core.io.jobs.schedules import ScheduleClient
from core.io.ledger import ReportLedgerStore
from core.io.settings import Settings
from core.io.store import AuditLog, ChatStore

log = logging.getLogger(__name__)


@dataclass
class OperatorDeps:
    settings: Settings
    client: Client
    registry: WorkerRegistry
    chats: ChatStore
    ledger: ReportLedgerStore
    audit: AuditLog


class ChatServices:
    def __init__(self, deps: OperatorDeps) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.registry = deps.registry
        self.jobs = JobClient(deps.client, deps.registry)
        self.planner = Planner(deps.registry, deps.settings)
        self.schedules = ScheduleClient(deps.client, deps.settings.schedule_min_interval_seconds)
        self.heartbeats = HeartbeatAdmin(deps.settings, deps.client, deps.chats.db)
        # Jobs whose card is with the transport: they start once it is posted.
        self._pending_starts: TTLCache[str, JobSpec] = TTLCache(maxsize=10_000, ttl=600)
        # The files those jobs were given: put in their workspaces just before they start.
        self._pending_uploads: TTLCache[str, list[Upload]] = TTLCache(maxsize=10_000, ttl=600)

    def origin(self, msg: Incoming) -> dict[str, int | None]:
        return {"chat_id": msg.chat_id, "topic_id": msg.topic_id, "requested_by": msg.user_id}

    def job_id_for(self, msg: Incoming, nth: int = 0) -> str | None:
        """The id of the `nth` job `msg` asks for when its transport can deliver it again (the
        same id each time, so it starts once); None: the planner makes a new one."""
        return request_job_id(msg.request_key, nth) if msg.request_key else None

    async def start_job(
        self, spec: JobSpec, why: str, files: list[Attachment] | None = None
    ) -> list[Reply]:
        """Dispatch: answer with the job card (which names the worker and why); the job starts
        once the transport has posted it (`reply_posted`), with the card's message id in its
        spec, so the card always comes first and the job edits it without a round trip. The
        card is the job's "running" report, so it is recorded in the ledger and nobody repeats
        it. `files` (a person's attachments) are checked now — a bad one refuses the job
        before anything is shown — and put in the job's workspace as it starts; their names
        go into the main step's `files` parameter."""
        given = uploads.checked(files or [], self.settings)
        worker = self.registry.get(spec.main_step.worker)
        spec = spec.model_copy(update={"announced": True, "card_why": why[:300]})
        if given:
            spec = with_files(spec, [upload.name for upload in given])
            self._pending_uploads[spec.job_id] = given
        self._pending_starts[spec.job_id] = spec
        if spec.approval is Approval.required:
            # The reply is the approval request (what will run, Approve / Deny); the job
            # waits in awaiting_approval and says nothing more until a person decides.
            reply = views.approval_reply(spec)
            if given:
                reply.text = f"{reply.text}\n{uploads.card_line(given)}"
        else:
            reply = views.job_card_reply(spec, worker, why)
        shown = None if given else await self._card_shown_before(spec.job_id)
        if shown is not None:
            # The same message handled again (a bot killed after posting the card, before the
            # job had started and Telegram had the update confirmed): the chat shows the card
            # already, so the job starts with it and the person gets no second one.
            await self.reply_posted(reply, [shown])
            return []
        return [reply]

    async def _card_shown_before(self, job_id: str) -> int | None:
        """The message showing this job's card (or approval request) when an earlier handling
        of the same message posted it; None when none did (or its id is not known)."""
        entry = await self.deps.ledger.entry(job_id)
        if entry is None or entry.last_reported_status is None:
            return None
        return entry.message_id

    async def reply_posted(
        self, reply: Reply, message_ids: list[int], fetch: Fetcher | None = None
    ) -> None:
        """A transport has posted `reply` (`message_ids` empty: not delivered, or a transport
        that cannot edit). For a job card, this starts the job — its files first, in its
        workspace (`fetch` gets a Telegram document's bytes); a file that cannot be had is an
        UploadError and the job does not start."""
        if reply.job_id is None:
            return
        spec = self._pending_starts.pop(reply.job_id, None)
        if spec is None:
            return
        pending = self._pending_uploads.pop(spec.job_id, None)
        if pending:
            folder = workspace_name(spec.report_chat_id, spec.job_id)
            await uploads.place(pending, self.settings, folder, fetch)
        if spec.approval is Approval.required:
            # The request is the job's awaiting_approval report; what follows a decision is
            # the job's own to tell (the request message is not a card to edit).
            told = JobState.awaiting_approval.value
            shown = buttons_message_id(reply.text, message_ids)
            if shown is not None:  # edited once decided or expired: no button left to press
                spec = spec.model_copy(update={"approval_message_id": shown})
        else:
            told = JobState.running.value
            shown = message_ids[-1] if message_ids else None
            if shown is not None:
                spec = spec.model_copy(update={"card_message_id": shown})
        # A message handled again (redelivered) may find its job already further on.
        await self.deps.ledger.mark_reported(
            spec.job_id, spec.report_chat_id, told, first_only=True, message_id=shown
        )
        await self.jobs.start(spec)
        log.info(
            "job %s started for chat %s on %s",
            spec.job_id,
            spec.report_chat_id,
            spec.main_step.worker,
            extra={"job_id": spec.job_id},
        )

    def owns(self, msg: Incoming, desc: WorkflowExecutionDescription) -> bool:
        """Jobs are scoped to the chat that asked for them."""
        chat = desc.typed_search_attributes.get(SA_REPORT_CHAT_ID)
        return msg.trusted or chat is None or chat == msg.chat_id

    async def chat_job(self, msg: Incoming, job_id: str) -> WorkflowExecutionDescription:
        """The job's description when it belongs to this chat. A job that does not exist and
        another chat's job get the same refusal, after the same single call."""
        try:
            desc = await self.jobs.describe(job_id)
        except JobNotFoundError:
            raise no_job_in_chat(job_id) from None
        if not self.owns(msg, desc):
            raise no_job_in_chat(job_id)
        return desc

    async def checked_job(self, msg: Incoming, args: str, usage: str) -> str:
        """The job id in `args`, verified to exist and to belong to this chat."""
        if not args:
            raise PlanError(f"usage: {usage}")
        job_id = normalize_job_id(args.split()[0])
        await self.chat_job(msg, job_id)
        return job_id

    async def worker_status(self) -> list[tuple[WorkerDefinition, bool | None]]:
        return [(w, await self.has_pollers(w.task_queue)) for w in self.registry.all()]

    async def has_pollers(self, task_queue: str) -> bool | None:
        """Whether any worker polls the queue right now (Temporal's describe-task-queue)."""
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


def with_files(spec: JobSpec, names: list[str]) -> JobSpec:
    """`spec` with the names of the files it was given in its main step's `files` parameter
    (research reads them even when the goal does not name them)."""
    main = spec.main_step
    steps = [
        step.model_copy(update={"params": {**step.params, "files": names}})
        if step is main
        else step
        for step in spec.steps
    ]
    return spec.model_copy(update={"steps": steps})
