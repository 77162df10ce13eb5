"""Telegram errors onto Temporal retry semantics: a 429's `retry_after` becomes the next retry
delay; 5xx and network errors are retried with backoff; a chat that is gone or a message
Telegram refuses is non-retryable (and recorded by the caller). Every Bot API caller maps its
errors here, so the notify activities, the bot's replies and `getChat` agree."""

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
from temporalio.exceptions import ApplicationError


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


def telegram_error(exc: Exception, secret: str | None = None) -> ApplicationError:
    """Translate a python-telegram-bot error for Temporal (never includes the token)."""
    if isinstance(exc, RetryAfter):
        seconds = retry_after_seconds(exc)
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
            f"chat unreachable: {redact(exc.message, secret)}",
            type="ChatUnreachable",
            non_retryable=True,
        )
    if isinstance(exc, BadRequest):
        text = redact(exc.message, secret)
        if "chat not found" in text.lower():
            return ApplicationError(
                f"chat unreachable: {text}", type="ChatUnreachable", non_retryable=True
            )
        return ApplicationError(
            f"Telegram refused the message: {text}", type="BadMessage", non_retryable=True
        )
    if isinstance(exc, TimedOut | NetworkError):
        return ApplicationError(
            f"Telegram unavailable: {redact(str(exc), secret)}", type="TelegramUnavailable"
        )
    return ApplicationError(f"Telegram error: {type(exc).__name__}", type="TelegramError")
