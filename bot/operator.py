"""The operator: one transport-agnostic object that takes a person's message (or button press)
and returns replies. Telegram and the console chat are thin transports over it.

Its modes: intake (commands and plain words → JobSpec), dispatch (the registry picks the worker
and the card says why), status (from Temporal), recovery (cancel / retry / reroute). Commands
live in `bot/commands/`, one module per concern, and receive the `ChatServices` they share
(`bot/services.py`); this class adds the gate and the routing of a message to its command.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Awaitable, Callable

from cachetools import TTLCache

from bot import uploads, views
from bot.commands import all_buttons, all_commands
from bot.intake import Intake
from bot.services import ChatServices, OperatorDeps
from bot.types import Attachment, Incoming, Reply
from bot.uploads import Fetcher, UploadError
from core.domain.errors import Refusal
from core.domain.render import esc
from core.io.llm.client import outage as llm_outage
from core.io.logs import chat_context

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


def addressed_elsewhere(msg: Incoming) -> str | None:
    """The bot a command names after its `@` (`/exec@other_bot …`) when that is not this bot;
    None for a command without one, or addressed to this bot (compared as Telegram does,
    ignoring case). A transport that knows no name of its own (the console) has none."""
    text = (msg.text or "").strip()
    if msg.callback_data is not None or not text.startswith("/"):
        return None
    head = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    addressed = head.partition("@")[2]
    if not addressed:
        return None
    if msg.bot_username is not None and addressed.lower() == msg.bot_username.lower():
        return None
    return addressed


class Operator(ChatServices):
    """The chat services plus the gate (who may talk to it) and the routing of each message
    or button press to its command, the intake or the keyword router."""

    def __init__(self, deps: OperatorDeps) -> None:
        super().__init__(deps)
        self.commands = all_commands()
        self.buttons = all_buttons()
        self._refused: TTLCache[int, float] = TTLCache(maxsize=10_000, ttl=REFUSAL_INTERVAL_SECONDS)
        # Chat id -> the number of the LLM outage it was told about.
        self._llm_told: TTLCache[int, int] = TTLCache(maxsize=10_000, ttl=7 * 24 * 3600)
        self.intake = Intake(self, self.commands)

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
                log.exception(
                    "chat %s: job %s did not start",
                    msg.chat_id,
                    reply.job_id,
                    extra={"job_id": reply.job_id},
                )
                failed = Reply(
                    text=f"⚠️ {esc(reply.job_id)} could not be started; nothing runs. "
                    "Try again in a moment."
                )
                if post is not None:
                    await post(failed)
        return replies

    async def _replies(self, msg: Incoming) -> list[Reply]:
        if addressed_elsewhere(msg) is not None and msg.chat_type != "private":
            return []  # another bot's command in a group: not ours to answer, or to refuse
        refusal = await self._gate(msg)
        if refusal is not None:
            return refusal
        # No heartbeat is provisioned here: a person's private chat has one from start-up
        # (allowed users) or from /heartbeat on, so no Temporal call holds up their answer.
        await self.deps.chats.touch(msg.chat_id, chat_type=msg.chat_type, user_id=msg.user_id)
        return await self._answer(msg)

    async def _answer(self, msg: Incoming) -> list[Reply]:
        try:
            if msg.callback_data is not None:
                return await self._button(msg, msg.callback_data)
            return await self._text(msg, (msg.text or "").strip())
        except Refusal as exc:  # anything else is a fault: `_handle` logs its traceback
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
        other_bot = addressed_elsewhere(msg)
        if other_bot is not None:
            return [Reply(text=views.addressed_to_another_bot(other_bot, msg.bot_username))]
        head, _, args = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        command = self.commands.get(name)
        if command is None:
            near = self.nearest_command(name)
            example = self.commands[near].example if near else ""
            return [Reply(text=views.unknown_command(name, near, example))]
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

    def nearest_command(self, name: str) -> str | None:
        """The registered command a mistyped name most likely meant (difflib), if any."""
        close = difflib.get_close_matches(name, list(self.commands), n=1, cutoff=0.6)
        return close[0] if close else None
