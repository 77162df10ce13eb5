"""python-telegram-bot's errors said as `errors.TelegramFailure`s, and as metric labels. Only the
modules that talk to the Bot API import this (python-telegram-bot is not loaded in console mode)."""

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

from activities.telegram.errors import Final, RateLimited, TelegramFailure, Transient, redact


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
