"""Sending `ChatMessage`s through a PTB bot: split, paced per chat, topics carried, HTML with a
plain-text fallback, documents for what is too long. Errors come out as `TelegramFailure`s
(`ptb_errors.telegram_error`): rate limited, transient or final; the caller decides how to retry."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter
from temporalio import activity

from activities.telegram.errors import TelegramFailure
from activities.telegram.pacing import CHAT_PACER, ChatPacer
from activities.telegram.parts import OVERFLOW_FILENAME, OnSent, plan_parts
from activities.telegram.ptb_errors import retry_after_seconds, send_outcome, telegram_error
from core.domain.ids import chat_folder
from core.domain.messages import Button, ChatMessage, PhotoMessage
from core.domain.render import html_to_plain, split_message
from core.io.metrics import TELEGRAM_SENDS
from core.io.workspace import Workspace, WorkspaceError

log = logging.getLogger(__name__)

T = TypeVar("T")
# What a bot may upload as a document; a larger file in a workspace is not attached.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
# A 429 with a retry_after up to this is waited out in the chat's turn (order kept); longer
# ones, or more waiting than the budget in one send, go back to the caller to retry later.
INLINE_RETRY_AFTER_SECONDS = 30.0
INLINE_WAIT_BUDGET = 60.0


def _shown_key(body: str, buttons: list[Button]) -> str | None:
    """An edit's whole content (its text and its buttons) and the activity that makes it: only a
    retry of the same activity is taken for a repeat. Another activity's same content may
    follow another process's different edit (a card back to "running" after "needs attention",
    edited by another notify worker), which this process cannot see."""
    if not activity.in_activity():
        return None
    info = activity.info()
    owner = f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
    return "\x00".join([owner, body, *(f"{b.label}\x01{b.data}" for b in buttons)])


def keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in buttons]]
    )


class TelegramDelivery:
    def __init__(
        self,
        bot: Bot,
        workspaces: Path,
        *,
        pacer: ChatPacer = CHAT_PACER,
        secret: str | None = None,
    ) -> None:
        self.bot = bot
        self.workspaces = workspaces
        self.pacer = pacer
        self.secret = secret

    async def _call(self, chat_id: int, method: str, call: Callable[[], Awaitable[T]]) -> T:
        """One API call in the chat's turn. A 429 blocks this chat alone; a short `retry_after`
        is waited out in the turn and the call repeated, so later messages to the chat stay
        behind it; a long one goes back to the caller (`RateLimited`)."""
        waited = 0.0
        async with self.pacer.slot(chat_id):
            while True:
                try:
                    result = await call()
                except RetryAfter as exc:
                    TELEGRAM_SENDS.labels(method, "429").inc()
                    seconds = retry_after_seconds(exc)
                    self.pacer.block(chat_id, seconds)
                    if (
                        seconds > INLINE_RETRY_AFTER_SECONDS
                        or waited + seconds > INLINE_WAIT_BUDGET
                    ):
                        raise
                    waited += seconds
                    await self.pacer.wait_blocked(chat_id)
                    continue
                except Exception as exc:
                    TELEGRAM_SENDS.labels(method, send_outcome(exc)).inc()
                    raise
                TELEGRAM_SENDS.labels(method, "ok").inc()
                return result

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        """Send the parts (buttons on the last), then the attached and the overflow documents.

        `skip_chunks` lets a retry resume after the parts it already delivered (`resume`)."""
        parts, overflow = plan_parts(message.text)
        items: list[tuple[str, Callable[[], Awaitable[int]]]] = []
        for index, part in enumerate(parts):
            markup = keyboard(message.buttons) if index == len(parts) - 1 else None
            items.append(("sendMessage", functools.partial(self._send_text, message, part, markup)))
        document = self._document(message) if message.document_path else None
        if document is not None:
            content, filename = document
            items.append(
                ("sendDocument", functools.partial(self._send_file, message, content, filename))
            )
        if message.document_text is not None:
            items.append(
                (
                    "sendDocument",
                    functools.partial(
                        self._send_file,
                        message,
                        message.document_text.encode("utf-8"),
                        message.document_name,
                    ),
                )
            )
        if overflow is not None:
            items.append(
                (
                    "sendDocument",
                    functools.partial(
                        self._send_file, message, overflow.encode(), OVERFLOW_FILENAME
                    ),
                )
            )
        ids: list[int] = []
        try:
            for index, (method, item) in enumerate(items):
                if index < skip_chunks:
                    continue
                ids.append(await self._call(message.chat_id, method, item))
                if on_sent is not None:
                    on_sent(index + 1)
        except TelegramFailure:
            raise
        except Exception as exc:
            raise telegram_error(exc, self.secret) from None
        return ids

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        """Edit a card in place; "message is not modified" counts as done. An edit this process
        already made (a retry of an activity whose first attempt landed while it waited for the
        chat, a card edited to the state it shows) is not sent again: Telegram would refuse it
        as "not modified", and it would spend the chat's turn and a group's minute."""
        body = split_message(text)[0]
        content = _shown_key(body, buttons)
        if content is None:  # not a notify activity's edit: nothing to remember it by
            return await self._edit(chat_id, message_id, body, buttons)

        async def call() -> bool:
            if self.pacer.shows(chat_id, message_id, content):
                return False
            await self._edit_text(chat_id, message_id, body, buttons)
            return True

        if self.pacer.shows(chat_id, message_id, content):
            return True
        try:
            await self._call(chat_id, "editMessageText", call)
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                self.pacer.showing(chat_id, message_id, content)
                return True
            self.pacer.showing(chat_id, message_id, None)
            raise telegram_error(exc, self.secret) from None
        except Exception as exc:
            # A 5xx may have hidden the edit's delivery: what the message shows is not known.
            self.pacer.showing(chat_id, message_id, None)
            raise telegram_error(exc, self.secret) from None
        self.pacer.showing(chat_id, message_id, content)
        return True

    async def _edit_text(
        self, chat_id: int, message_id: int, body: str, buttons: list[Button]
    ) -> None:
        await self.bot.edit_message_text(
            body,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(buttons),
            disable_web_page_preview=True,
        )

    async def _edit(self, chat_id: int, message_id: int, body: str, buttons: list[Button]) -> bool:
        async def call() -> None:
            await self._edit_text(chat_id, message_id, body, buttons)

        try:
            await self._call(chat_id, "editMessageText", call)
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                return True
            raise telegram_error(exc, self.secret) from None
        except Exception as exc:
            raise telegram_error(exc, self.secret) from None
        return True

    async def send_photo(self, message: PhotoMessage) -> int:
        async def call() -> int:
            sent = await self.bot.send_photo(
                message.chat_id,
                photo=message.png,
                filename=message.filename,
                caption=message.caption or None,
                message_thread_id=message.topic_id,
            )
            return sent.message_id

        try:
            return await self._call(message.chat_id, "sendPhoto", call)
        except Exception as exc:
            raise telegram_error(exc, self.secret) from None

    async def _send_text(
        self, message: ChatMessage, chunk: str, markup: InlineKeyboardMarkup | None
    ) -> int:
        try:
            sent = await self.bot.send_message(
                message.chat_id,
                chunk,
                parse_mode=ParseMode.HTML,
                message_thread_id=message.topic_id,
                reply_markup=markup,
                disable_web_page_preview=True,
                disable_notification=message.silent,
            )
        except BadRequest as exc:
            if "can't parse entities" not in exc.message.lower():
                raise
            # Markup Telegram rejects (e.g. from an LLM): send that part as plain text rather
            # than lose it.
            sent = await self.bot.send_message(
                message.chat_id,
                html_to_plain(chunk),
                message_thread_id=message.topic_id,
                reply_markup=markup,
                parse_mode=None,
                disable_notification=message.silent,
            )
        return sent.message_id

    async def _send_file(self, message: ChatMessage, content: bytes, filename: str) -> int:
        sent = await self.bot.send_document(
            message.chat_id,
            document=content,
            filename=filename,
            message_thread_id=message.topic_id,
            disable_notification=message.silent,
        )
        return sent.message_id

    def _document(self, message: ChatMessage) -> tuple[bytes, str] | None:
        """The message's document (content, file name), read beneath its chat's own folder
        without following a link (a command may have swapped the file for one); None, and the
        text goes alone, when there is no such regular file there."""
        assert message.document_path is not None
        folder, _, relative = message.document_path.partition("/")
        if folder != chat_folder(message.chat_id):
            log.warning(
                "not attaching %s to chat %s: not in that chat's folder",
                message.document_path,
                message.chat_id,
            )
            return None
        try:
            with Workspace.open(self.workspaces, folder, create=False) as chat:
                content = chat.read_bytes(relative, MAX_DOCUMENT_BYTES)
        except WorkspaceError as exc:
            log.warning("not attaching %s: %s", message.document_path, exc)
            return None
        if len(content) > MAX_DOCUMENT_BYTES:
            log.warning("not attaching %s: larger than a bot may send", message.document_path)
            return None
        return content, PurePosixPath(relative).name
