"""Where chat messages go: Telegram's Bot API (python-telegram-bot) or the local console.

Telegram errors are mapped onto Temporal retry semantics: a 429's `retry_after` becomes the
activity's next retry delay; 5xx and network errors are retried with backoff; a chat that is gone
or a message Telegram refuses is non-retryable (and recorded by the caller).
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Protocol, TextIO

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest
from temporalio.exceptions import ApplicationError

from core.messages import Button, ChatMessage
from core.render import split_message
from core.settings import Settings

_TAG = re.compile(r"<[^>]+>")


def html_to_plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def console_text(text: str, buttons: list[Button]) -> str:
    body = html_to_plain(text)
    if buttons:
        body += "\n  " + "  ".join(f"[{b.label}: /{b.data.replace(':', ' ')}]" for b in buttons)
    return body


def keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in buttons]]
    )


OnSent = Callable[[int], None]


class Sender(Protocol):
    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]: ...

    async def close(self) -> None: ...


def telegram_error(exc: Exception) -> ApplicationError:
    """Translate a python-telegram-bot error for Temporal (never includes the token)."""
    if isinstance(exc, RetryAfter):
        delay = exc.retry_after
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return ApplicationError(
            f"Telegram rate limit: retry after {seconds:g}s",
            type="RateLimited",
            next_retry_delay=timedelta(seconds=max(seconds, 0.1)),
        )
    if isinstance(exc, InvalidToken):
        return ApplicationError(
            "the Telegram bot token was rejected", type="BadToken", non_retryable=True
        )
    if isinstance(exc, Forbidden):
        return ApplicationError(
            f"chat unreachable: {exc.message}", type="ChatUnreachable", non_retryable=True
        )
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return ApplicationError(
                f"chat unreachable: {exc.message}", type="ChatUnreachable", non_retryable=True
            )
        return ApplicationError(
            f"Telegram refused the message: {exc.message}", type="BadMessage", non_retryable=True
        )
    if isinstance(exc, TimedOut | NetworkError):
        return ApplicationError(f"Telegram unavailable: {exc}", type="TelegramUnavailable")
    return ApplicationError(f"Telegram error: {type(exc).__name__}", type="TelegramError")


class TelegramSender:
    def __init__(self, settings: Settings) -> None:
        assert settings.telegram_bot_token is not None
        self.workspaces = settings.workspaces_dir
        self.bot = Bot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_base_url,
            request=HTTPXRequest(connection_pool_size=32, read_timeout=15, write_timeout=15),
        )
        self._ready = False

    async def _bot(self) -> Bot:
        if not self._ready:
            await self.bot.initialize()
            self._ready = True
        return self.bot

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        """Send text (split to ≤ 4096), buttons on the last part, then the document if any.

        `skip_chunks` lets a retried activity resume after the parts it already delivered."""
        bot = await self._bot()
        chunks = split_message(message.text)
        ids: list[int] = []
        try:
            for index, chunk in enumerate(chunks):
                if index < skip_chunks:
                    continue
                last = index == len(chunks) - 1
                markup = keyboard(message.buttons) if last else None
                ids.append(await self._send_text(bot, message, chunk, markup))
                if on_sent is not None:
                    on_sent(index + 1)
            if message.document_path and skip_chunks <= len(chunks):
                path = self._document(message.document_path)
                if path is not None:
                    with path.open("rb") as handle:
                        sent = await bot.send_document(
                            message.chat_id,
                            document=handle,
                            filename=path.name,
                            message_thread_id=message.topic_id,
                        )
                    ids.append(sent.message_id)
        except ApplicationError:
            raise
        except Exception as exc:
            raise telegram_error(exc) from None
        return ids

    async def _send_text(
        self, bot: Bot, message: ChatMessage, chunk: str, markup: InlineKeyboardMarkup | None
    ) -> int:
        try:
            sent = await bot.send_message(
                message.chat_id,
                chunk,
                parse_mode=ParseMode.HTML,
                message_thread_id=message.topic_id,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if "can't parse entities" not in exc.message.lower():
                raise
            # A split cut through markup: send that part as plain text rather than lose it.
            sent = await bot.send_message(
                message.chat_id,
                html_to_plain(chunk),
                message_thread_id=message.topic_id,
                reply_markup=markup,
            )
        return sent.message_id

    def _document(self, relative: str) -> Path | None:
        path = (self.workspaces / relative).resolve()
        if self.workspaces.resolve() not in path.parents or not path.is_file():
            return None
        return path

    async def close(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False


class ConsoleSender:
    """No Telegram token: messages are printed for the person at the terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._next_id = 0

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        text = console_text(message.text, message.buttons)
        if message.document_path:
            text += f"\n  (attached: {message.document_path})"
        print(f"\n{text}\n", file=self.stream, flush=True)
        self._next_id += 1
        return [self._next_id]

    async def close(self) -> None:
        return None


def build_sender(settings: Settings) -> Sender:
    return ConsoleSender() if settings.console_mode else TelegramSender(settings)
