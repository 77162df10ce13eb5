"""The operator: one transport-agnostic object that takes a person's message (or button press)
and returns replies. Telegram and the console chat are thin transports over it.

Modes (DESIGN.md §3): intake (commands → JobSpec), dispatch (the registry picks the worker and
the card says why), status (from Temporal), recovery (cancel / retry / reroute). Commands live in
`bot/commands/`, one module per concern; this class holds the gate and the shared helpers.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TTLCache
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionDescription

from core.ids import normalize_job_id, workspace_name
from core.jobs import Approval, JobSpec, JobState
from core.llm import outage as llm_outage
from core.logs import chat_context
from core.registry import WorkerDefinition, WorkerRegistry
from core.render import esc
from core.settings import Settings
from core.store import AuditLog, ChatStore, ReportLedgerStore
from core.temporal import SA_REPORT_CHAT_ID
from core.workspace import workspace_dir

from . import uploads, views
from .commands import Command, all_buttons, all_commands
from .heartbeat_admin import HeartbeatAdmin
from .job_client import JobActionError, JobClient, JobNotFoundError
from .planner import PlanError, Planner
from .router import EXAMPLE_PHRASES
from .schedules import ScheduleClient, ScheduleError
from .types import Attachment, Incoming, Reply
from .uploads import Fetcher, Upload, UploadError

log = logging.getLogger(__name__)
# A transport's way to show a reply: returns the ids of the messages it posted (empty when it
# could not, or cannot edit them later).
Poster = Callable[[Reply], Awaitable[list[int]]]

REFUSAL_INTERVAL_SECONDS = 600
MAX_MESSAGE_CHARS = 4000
SOMETHING_WENT_WRONG = (
    "⚠️ Something went wrong on my side (the details are in the log); nothing was lost. "
    "Try again in a moment."
)
LLM_OUTAGE_NOTICE = (
    "ℹ️ The language model is not answering right now, so I work without it: commands as "
    "usual, plain words matched by keywords, job reports without a summary. I will not "
    "repeat this until it has come back and failed again."
)


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
        self.schedules = ScheduleClient(deps.client, deps.settings.schedule_min_interval_seconds)
        self.heartbeats = HeartbeatAdmin(deps.settings, deps.client, deps.chats.db)
        self.commands = all_commands()
        self.buttons = all_buttons()
        self._refused: TTLCache[int, float] = TTLCache(maxsize=10_000, ttl=REFUSAL_INTERVAL_SECONDS)
        # Jobs whose card is with the transport: they start once it is posted.
        self._pending_starts: TTLCache[str, JobSpec] = TTLCache(maxsize=10_000, ttl=600)
        # The files those jobs were given: put in their workspaces just before they start.
        self._pending_uploads: TTLCache[str, list[Upload]] = TTLCache(maxsize=10_000, ttl=600)
        # Chat id -> the number of the LLM outage it was told about.
        self._llm_told: TTLCache[int, int] = TTLCache(maxsize=10_000, ttl=7 * 24 * 3600)
        from .intake import Intake  # the intake needs the command registry loaded first

        self.intake = Intake(self)

    # --- entry point -----------------------------------------------------------------------
    async def handle(
        self, msg: Incoming, post: Poster | None = None, fetch: Fetcher | None = None
    ) -> list[Reply]:
        """Answer one message or button press. With `post` (a transport), each reply is posted
        through it before anything it announces starts — a new job's card comes first, and the
        job knows where it is. Without, the replies are only returned and their jobs start at
        once (scripts, tests). `fetch` gets the bytes of a file the message carries (a Telegram
        document). Never raises: an unexpected error is logged with its traceback and the chat
        gets one clear line. Records logged meanwhile carry the chat id."""
        with chat_context(msg.chat_id):
            return await self._handle(msg, post, fetch)

    async def _handle(
        self, msg: Incoming, post: Poster | None, fetch: Fetcher | None
    ) -> list[Reply]:
        try:
            replies = self._tell_llm_outage(msg, await self._replies(msg))
        except Exception:
            log.exception(
                "chat %s: handling %r failed",
                msg.chat_id,
                (msg.text or msg.callback_data or "")[:100],
            )
            replies = [Reply(text=SOMETHING_WENT_WRONG, toast="error")]
        for reply in replies:
            ids = await post(reply) if post is not None else []
            try:
                await self.reply_posted(reply, ids, fetch)
            except UploadError as exc:
                log.warning("chat %s: job %s not started: %s", msg.chat_id, reply.job_id, exc)
                failed = Reply(
                    text=f"⚠️ {esc(reply.job_id)} was not started: {esc(exc)}. Nothing runs; "
                    "send the file and the command again."
                )
                if post is not None:
                    await post(failed)
            except Exception:
                log.exception("chat %s: job %s did not start", msg.chat_id, reply.job_id)
                failed = Reply(
                    text=f"⚠️ {esc(reply.job_id)} could not be started; nothing runs. "
                    "Try again in a moment."
                )
                if post is not None:
                    await post(failed)
        return replies

    async def _replies(self, msg: Incoming) -> list[Reply]:
        refusal = await self._gate(msg)
        if refusal is not None:
            return refusal
        await self.deps.chats.touch(msg.chat_id, chat_type=msg.chat_type, user_id=msg.user_id)
        if msg.chat_type == "private":  # first contact enables the person's heartbeat
            await self.heartbeats.ensure_private(msg.chat_id)
        return await self._answer(msg)

    async def _answer(self, msg: Incoming) -> list[Reply]:
        try:
            if msg.callback_data is not None:
                return await self._button(msg, msg.callback_data)
            return await self._text(msg, (msg.text or "").strip())
        except (PlanError, JobActionError, ScheduleError, LookupError) as exc:
            return [Reply(text=f"⚠️ {esc(exc)}", toast="refused")]

    def _tell_llm_outage(self, msg: Incoming, replies: list[Reply]) -> list[Reply]:
        """Once per outage and chat, a line on the first reply that is not a job card. A card
        is edited in place as its job moves on (the line would vanish), and a message of its
        own would spend the chat's send budget just before the job's result."""
        number = llm_outage(self.settings)
        if number is None or self._llm_told.get(msg.chat_id) == number:
            return replies
        plain = [reply for reply in replies if reply.job_id is None]
        if not plain:
            return replies  # told with the next answer that is not a card
        self._llm_told[msg.chat_id] = number
        plain[-1].text = f"{plain[-1].text}\n\n{LLM_OUTAGE_NOTICE}"
        return replies

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
            # Say what arrived: a terminal or client may already have cut the message short.
            return [
                Reply(
                    text=f"⚠️ That message is too long: I received {len(text):,} characters "
                    f"and the limit is {MAX_MESSAGE_CHARS:,}. Nothing was started. Put long "
                    "input in a file or script and name it in a shorter message."
                )
            ]
        own_files = [a for a in msg.attachments if not a.replied]
        if not text.startswith("/"):
            if own_files:  # a file, and no command to give it to
                return self._file_without_command(msg, own_files)
            return await self.free_text(msg.model_copy(update={"attachments": []}), text)
        head, _, args = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        command = self.commands.get(name)
        if command is None:
            return [Reply(text=views.unknown_command(name, self.nearest_command(name)))]
        args = args.strip()
        if uploads.starts_with_attach(args):
            if not msg.trusted:
                raise UploadError(
                    "--attach works in the console only. Here, send the file as a document "
                    "with the command as its caption, or reply to it with the command."
                )
            paths, args = uploads.parse_attach(args)
            own_files = uploads.console_attachments(paths)
            msg = msg.model_copy(update={"attachments": own_files})
        if name not in uploads.FILE_COMMANDS:
            if own_files:
                raise UploadError(
                    f"/{name} does not take a file, so nothing was done. Files go with "
                    f"{', '.join('/' + c for c in uploads.FILE_COMMANDS)}."
                )
            msg = msg.model_copy(update={"attachments": []})  # a reply to a file: not for it
        return await command.handler(self, msg, args)

    def _file_without_command(self, msg: Incoming, files: list[Attachment]) -> list[Reply]:
        """A file with no command (or with plain words): say what to do; in a group, where
        people share files with each other, stay silent."""
        if msg.chat_type != "private":
            return []
        return [Reply(text=uploads.no_command_reply_text(files))]

    async def free_text(self, msg: Incoming, text: str) -> list[Reply]:
        """Plain words (not a command): the LLM intake when configured, else the keyword router."""
        return await self.intake.handle(msg, text)

    async def _button(self, msg: Incoming, data: str) -> list[Reply]:
        action, _, target = data.partition(":")
        handler = self.buttons.get(action)
        if handler is None or not target:
            return [Reply(text="⚠️ That button is no longer valid.", toast="not valid")]
        replies = await handler(self, msg, target)
        for reply in replies:
            reply.toast = reply.toast or action
        return replies

    def help_text(self) -> str:
        text = views.help_text(list(self.commands.values()), [p for p, _ in EXAMPLE_PHRASES])
        return f"{text}\n\n{uploads.HELP_TEXT}"

    def nearest_command(self, name: str) -> Command | None:
        """The registered command a mistyped name most likely meant (difflib), if any."""
        close = difflib.get_close_matches(name, list(self.commands), n=1, cutoff=0.6)
        return self.commands[close[0]] if close else None

    # --- helpers for command modules ---------------------------------------------------------
    def origin(self, msg: Incoming) -> dict[str, int | None]:
        return {"chat_id": msg.chat_id, "topic_id": msg.topic_id, "requested_by": msg.user_id}

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
            return [reply]
        return [views.job_card_reply(spec, worker, why)]

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
            workspace = await asyncio.to_thread(
                workspace_dir,
                self.settings.workspaces_dir,
                workspace_name(spec.report_chat_id, spec.job_id),
            )
            await uploads.place(pending, self.settings, workspace, fetch)
        if spec.approval is Approval.required:
            # The request is the job's awaiting_approval report; what follows a decision is
            # the job's own to tell (the request message is not a card to edit).
            told = JobState.awaiting_approval.value
        else:
            told = JobState.running.value
            if message_ids:
                spec = spec.model_copy(update={"card_message_id": message_ids[-1]})
        await self.deps.ledger.mark_reported(spec.job_id, spec.report_chat_id, told)
        await self.jobs.start(spec)
        log.info(
            "job %s started for chat %s on %s",
            spec.job_id,
            spec.report_chat_id,
            spec.main_step.worker,
            extra={"job_id": spec.job_id},
        )

    async def start_now(self, spec: JobSpec, why: str) -> None:
        """Start a job with no transport to show its card (scripts, tests)."""
        for reply in await self.start_job(spec, why):
            await self.reply_posted(reply, [])

    def owns(self, msg: Incoming, desc: WorkflowExecutionDescription) -> bool:
        """Jobs are scoped to the chat that asked for them."""
        chat = desc.typed_search_attributes.get(SA_REPORT_CHAT_ID)
        return msg.trusted or chat is None or chat == msg.chat_id

    async def checked_job(self, msg: Incoming, args: str, usage: str) -> str:
        """The job id in `args`, verified to exist and to belong to this chat."""
        if not args:
            raise PlanError(f"usage: {usage}")
        job_id = normalize_job_id(args.split()[0])
        desc = await self.jobs.describe(job_id)
        if not self.owns(msg, desc):
            raise JobNotFoundError(f"no job {job_id} in this chat")
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
