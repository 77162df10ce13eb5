"""Telegram errors as what a caller can do about them, in no retry framework's terms: a 429 is
`RateLimited` (retry after its `retry_after`); 5xx and network errors are `Transient` (retry with
backoff); a chat that is gone or a message Telegram refuses is `Final` (recorded by the caller).
Every Bot API caller maps its errors to these (python-telegram-bot's: `ptb_errors`), so the
notify activities, the bot's replies and `getChat` agree; `activities/notify.py` alone maps them
onto Temporal's retries. Nothing here imports python-telegram-bot: console mode never loads it."""

from __future__ import annotations


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
