"""Where chat messages go: Telegram's Bot API (python-telegram-bot) or the local console.

Telegram errors are mapped onto Temporal retry semantics: a 429's `retry_after` becomes the
activity's next retry delay; 5xx and network errors are retried with backoff; a chat that is gone
or a message Telegram refuses is non-retryable (and recorded by the caller).
"""

from __future__ import annotations

import functools
import html
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest
from temporalio.exceptions import ApplicationError

from activities.pacing import CHAT_PACER, ChatPacer
from core.messages import Button, ChatMessage, PhotoMessage
from core.metrics import TELEGRAM_SENDS
from core.render import TELEGRAM_MAX_CHARS, split_message, utf16_len
from core.settings import Settings

T = TypeVar("T")
# A 429 with a retry_after up to this is waited out in the chat's turn (order kept); longer
# ones, or more waiting than the budget in one send, go back to the caller to retry later.
INLINE_RETRY_AFTER_SECONDS = 30.0
INLINE_WAIT_BUDGET = 60.0

_TAG = re.compile(r"<[^>]+>")


def html_to_plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


# A button's data is `action:target`; in the console it is shown as the command that does the
# same. Actions that are not also a command's name are mapped here.
CONSOLE_BUTTON_COMMANDS = {"hb": "heartbeat infer"}


def button_command(data: str) -> str:
    """The chat command a button stands for. Only the FIRST colon separates the action: the
    target keeps its own (scheduled runs' ids end in a time such as `…T02:04:00Z`)."""
    action, _, target = data.partition(":")
    name = CONSOLE_BUTTON_COMMANDS.get(action, action)
    return f"/{name} {target}" if target else f"/{name}"


def console_text(text: str, buttons: list[Button]) -> str:
    body = html_to_plain(text)
    if buttons:
        body += "\n  " + "  ".join(f"[{b.label}: {button_command(b.data)}]" for b in buttons)
    return body


def keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in buttons]]
    )


OnSent = Callable[[int], None]

# Past this many parts a message is better read as a file: the chat gets the first part and the
# full text as a document.
MAX_PARTS = 5
OVERFLOW_NOTE = "\n\n<i>… too long for a chat; the full text is attached as a file.</i>"
OVERFLOW_FILENAME = "full-text.txt"


def send_outcome(exc: BaseException) -> str:
    """A failed Bot API call as a metric label: 429, 4xx, 5xx, or network (no HTTP answer)."""
    if isinstance(exc, RetryAfter):
        return "429"
    if isinstance(exc, TimedOut):
        return "network"
    if isinstance(exc, NetworkError):
        # python-telegram-bot raises NetworkError both for a 5xx answer and for a failed
        # connection; the latter's message names the httpx error.
        return "network" if str(exc).startswith("httpx.") else "5xx"
    if isinstance(exc, TelegramError):
        return "4xx"
    return "network"


class Sender(Protocol):
    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]: ...

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        """Edit a message in place; False when there is nothing to edit on this transport."""
        ...

    async def send_photo(self, message: PhotoMessage) -> int:
        """Send a picture with its caption; returns the message id."""
        ...

    async def close(self) -> None: ...


def plan_parts(text: str) -> tuple[list[str], str | None]:
    """(message parts, full plain text to attach as a document or None)."""
    parts = split_message(text)
    if len(parts) <= MAX_PARTS:
        return parts, None
    head = split_message(text, TELEGRAM_MAX_CHARS - utf16_len(OVERFLOW_NOTE))[0]
    return [head + OVERFLOW_NOTE], html_to_plain(text)


def _retry_after_seconds(exc: RetryAfter) -> float:
    delay = exc.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def telegram_error(exc: Exception, secret: str | None = None) -> ApplicationError:
    """Translate a python-telegram-bot error for Temporal (never includes the token)."""

    def clean(text: str) -> str:
        return text.replace(secret, "[REDACTED]") if secret else text

    if isinstance(exc, RetryAfter):
        seconds = _retry_after_seconds(exc)
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
            f"chat unreachable: {clean(exc.message)}", type="ChatUnreachable", non_retryable=True
        )
    if isinstance(exc, BadRequest):
        text = clean(exc.message)
        if "chat not found" in text.lower():
            return ApplicationError(
                f"chat unreachable: {text}", type="ChatUnreachable", non_retryable=True
            )
        return ApplicationError(
            f"Telegram refused the message: {text}", type="BadMessage", non_retryable=True
        )
    if isinstance(exc, TimedOut | NetworkError):
        return ApplicationError(
            f"Telegram unavailable: {clean(str(exc))}", type="TelegramUnavailable"
        )
    return ApplicationError(f"Telegram error: {type(exc).__name__}", type="TelegramError")


class TelegramDelivery:
    """Sends `ChatMessage`s through a PTB bot: split, paced per chat, topics carried, HTML with a
    plain-text fallback, documents for what is too long. Raises `ApplicationError` (see
    `telegram_error`) so the notify activity's retry policy does the rest."""

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
        behind it; a long one goes back to the caller (Temporal's next retry delay)."""
        waited = 0.0
        async with self.pacer.slot(chat_id):
            while True:
                try:
                    result = await call()
                except RetryAfter as exc:
                    TELEGRAM_SENDS.labels(method, "429").inc()
                    seconds = _retry_after_seconds(exc)
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

        `skip_chunks` lets a retried activity resume after the parts it already delivered."""
        parts, overflow = plan_parts(message.text)
        items: list[tuple[str, Callable[[], Awaitable[int]]]] = []
        for index, part in enumerate(parts):
            markup = keyboard(message.buttons) if index == len(parts) - 1 else None
            items.append(("sendMessage", functools.partial(self._send_text, message, part, markup)))
        if message.document_path:
            path = self._document(message.document_path)
            if path is not None:
                items.append(
                    (
                        "sendDocument",
                        functools.partial(self._send_file, message, path.read_bytes(), path.name),
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
        except ApplicationError:
            raise
        except Exception as exc:
            raise telegram_error(exc, self.secret) from None
        return ids

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        """Edit a card in place; "message is not modified" counts as done."""
        body = split_message(text)[0]

        async def call() -> None:
            await self.bot.edit_message_text(
                body,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(buttons),
                disable_web_page_preview=True,
            )

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
            )
        return sent.message_id

    async def _send_file(self, message: ChatMessage, content: bytes, filename: str) -> int:
        sent = await self.bot.send_document(
            message.chat_id,
            document=content,
            filename=filename,
            message_thread_id=message.topic_id,
        )
        return sent.message_id

    def _document(self, relative: str) -> Path | None:
        path = (self.workspaces / relative).resolve()
        if self.workspaces.resolve() not in path.parents or not path.is_file():
            return None
        return path


class TelegramSender:
    """The notify activities' transport: its own PTB bot with the bot-wide rate limit."""

    def __init__(self, settings: Settings, pacer: ChatPacer = CHAT_PACER) -> None:
        assert settings.telegram_bot_token is not None
        token = settings.telegram_bot_token.get_secret_value()
        self.bot: ExtBot[Any] = ExtBot(
            token,
            base_url=settings.telegram_base_url,
            request=HTTPXRequest(connection_pool_size=32, read_timeout=15, write_timeout=15),
            # Bot-wide ~30 msg/s and 20/min per group; 429s are not retried here: they go back
            # to Temporal as the activity's next retry delay.
            rate_limiter=AIORateLimiter(
                overall_max_rate=settings.telegram_max_messages_per_second, max_retries=0
            ),
        )
        self.delivery = TelegramDelivery(
            self.bot, settings.workspaces_dir, pacer=pacer, secret=token
        )
        self._ready = False

    async def _ready_delivery(self) -> TelegramDelivery:
        if not self._ready:
            try:
                await self.bot.initialize()
            except Exception as exc:
                raise telegram_error(exc, self.delivery.secret) from None
            self._ready = True
        return self.delivery

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        delivery = await self._ready_delivery()
        return await delivery.send(message, skip_chunks=skip_chunks, on_sent=on_sent)

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        delivery = await self._ready_delivery()
        return await delivery.edit(chat_id, message_id, text, buttons)

    async def send_photo(self, message: PhotoMessage) -> int:
        delivery = await self._ready_delivery()
        return await delivery.send_photo(message)

    async def close(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False


class ConsoleSender:
    """No Telegram token: messages are printed for the person at the terminal; pictures are
    written into `pictures` (the data folder's `pictures/`) and their path printed."""

    def __init__(self, stream: TextIO | None = None, pictures: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.pictures = pictures or Path("data") / "pictures"
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

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        return False  # a terminal cannot edit what it printed; the final message says it all

    async def send_photo(self, message: PhotoMessage) -> int:
        self._next_id += 1
        self.pictures.mkdir(parents=True, exist_ok=True)
        stem = Path(message.filename).stem or "picture"
        when = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.pictures / f"{stem}-{message.chat_id}-{when}.png"
        path.write_bytes(message.png)
        print(f"\n{message.caption}\n  (picture: {path})\n", file=self.stream, flush=True)
        return self._next_id

    async def close(self) -> None:
        return None


def build_sender(settings: Settings) -> Sender:
    if settings.console_mode:
        return ConsoleSender(pictures=settings.data_path / "pictures")
    return TelegramSender(settings)
