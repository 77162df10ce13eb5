"""Telegram errors become Temporal retry semantics, and never carry the bot token."""

from __future__ import annotations

from datetime import timedelta

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from activities.telegram.errors import telegram_error

TOKEN = "123456:SECRET-token-value"


def test_429_becomes_the_next_retry_delay() -> None:
    err = telegram_error(RetryAfter(timedelta(seconds=3)))
    assert err.type == "RateLimited" and not err.non_retryable
    assert err.next_retry_delay == timedelta(seconds=3)


def test_5xx_and_network_errors_are_retried_with_backoff() -> None:
    for exc in (NetworkError("Bad Gateway"), TimedOut()):
        err = telegram_error(exc)
        assert not err.non_retryable and err.next_retry_delay is None


def test_gone_chats_and_refused_messages_are_final() -> None:
    assert telegram_error(Forbidden("bot was blocked by the user")).type == "ChatUnreachable"
    assert telegram_error(BadRequest("Chat not found")).type == "ChatUnreachable"
    refused = telegram_error(BadRequest("message is too long"))
    assert refused.type == "BadMessage" and refused.non_retryable


def test_the_token_never_appears_in_an_error() -> None:
    for exc in (
        NetworkError(f"httpx.ConnectError: https://api.telegram.org/bot{TOKEN}/sendMessage"),
        BadRequest(f"odd reply mentioning {TOKEN}"),
        Forbidden(f"x {TOKEN}"),
    ):
        err = telegram_error(exc, secret=TOKEN)
        assert TOKEN not in err.message and "[REDACTED]" in err.message
