"""Telegram errors become rate limited / transient / final (the transport's own words, never
the bot token), and only the notify activity turns them into Temporal's retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from activities.notify import temporal_error, temporal_errors
from activities.telegram.errors import Final, RateLimited, Transient
from activities.telegram.ptb_errors import telegram_error

TOKEN = "123456:SECRET-token-value"


def test_429_is_rate_limited_for_its_retry_after() -> None:
    err = telegram_error(RetryAfter(timedelta(seconds=3)))
    assert isinstance(err, RateLimited) and err.seconds == 3 and err.kind == "RateLimited"


def test_5xx_and_network_errors_are_transient() -> None:
    for exc in (NetworkError("Bad Gateway"), TimedOut()):
        err = telegram_error(exc)
        assert isinstance(err, Transient) and err.kind == "TelegramUnavailable"


def test_gone_chats_refused_messages_and_a_bad_token_are_final() -> None:
    for exc, kind in (
        (Forbidden("bot was blocked by the user"), "ChatUnreachable"),
        (BadRequest("Chat not found"), "ChatUnreachable"),
        (BadRequest("message is too long"), "BadMessage"),
        (InvalidToken(), "BadToken"),
    ):
        err = telegram_error(exc)
        assert isinstance(err, Final) and err.kind == kind


def test_the_token_never_appears_in_an_error() -> None:
    for exc in (
        NetworkError(f"httpx.ConnectError: https://api.telegram.org/bot{TOKEN}/sendMessage"),
        BadRequest(f"odd reply mentioning {TOKEN}"),
        Forbidden(f"x {TOKEN}"),
    ):
        err = telegram_error(exc, secret=TOKEN)
        assert TOKEN not in err.message and "[REDACTED]" in err.message


def test_the_notify_activity_maps_them_onto_temporal_retries() -> None:
    limited = temporal_error(telegram_error(RetryAfter(timedelta(seconds=3))))
    assert limited.type == "RateLimited" and not limited.non_retryable
    assert limited.next_retry_delay == timedelta(seconds=3)
    down = temporal_error(telegram_error(NetworkError("Bad Gateway")))
    assert down.type == "TelegramUnavailable" and not down.non_retryable
    assert down.next_retry_delay is None
    refused = temporal_error(telegram_error(BadRequest("message is too long")))
    assert refused.type == "BadMessage" and refused.non_retryable
    with pytest.raises(Exception) as raised, temporal_errors():
        raise telegram_error(Forbidden("bot was blocked by the user"))
    assert getattr(raised.value, "type", None) == "ChatUnreachable"
