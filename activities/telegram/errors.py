"""Telegram errors as what a caller can do about them, in no retry framework's terms: a 429 is
`RateLimited` (retry after its `retry_after`); 5xx and network errors are `Transient` (retry with
backoff); a chat that is gone or a message Telegram refuses is `Final` (recorded by the caller).
Every Bot API caller maps its errors here, so the notify activities, the bot's replies and
`getChat` agree; `activities/notify.py` alone maps them onto Temporal's retries."""

from __future__ import annotations

from datetime import timedelta

from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)


def retry_after_seconds(exc: RetryAfter) -> float:
    delay = exc.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


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


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "[REDACTED]") if secret else text


class TelegramFailure(Exception):
    """A Bot API call that failed, said as what its caller can do about it: wait
    (`RateLimited`), try again later (`Transient`) or give up (`Final`). `kind` names the cause
    (RateLimited, BadToken, ChatUnreachable, BadMessage, TelegramUnavailable, TelegramError);
    `message` never carries the token. Nothing here knows who retries: the notify activity
    turns these into Temporal's retries, the bot retries its replies itself."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class RateLimited(TelegramFailure):
    """A 429: try again after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Telegram rate limit: retry after {seconds:g}s", "RateLimited")
        self.seconds = seconds


class Transient(TelegramFailure):
    """A 5xx, a network error or anything unexpected: try again with backoff."""


class Final(TelegramFailure):
    """The token, the chat or the message is refused: trying again changes nothing."""


def telegram_error(exc: Exception, secret: str | None = None) -> TelegramFailure:
    """Translate a python-telegram-bot error (never includes the token)."""
    if isinstance(exc, RetryAfter):
        return RateLimited(retry_after_seconds(exc))
    if isinstance(exc, InvalidToken):
        return Final("the Telegram bot token was rejected", "BadToken")
    if isinstance(exc, Forbidden):
        return Final(f"chat unreachable: {redact(exc.message, secret)}", "ChatUnreachable")
    if isinstance(exc, BadRequest):
        text = redact(exc.message, secret)
        if "chat not found" in text.lower():
            return Final(f"chat unreachable: {text}", "ChatUnreachable")
        return Final(f"Telegram refused the message: {text}", "BadMessage")
    if isinstance(exc, TimedOut | NetworkError):
        return Transient(f"Telegram unavailable: {redact(str(exc), secret)}", "TelegramUnavailable")
    return Transient(f"Telegram error: {type(exc).__name__}", "TelegramError")
