"""The one place a python-telegram-bot `ExtBot` is built, with its HTTP settings from `Settings`.

Every bot talks to `telegram_base_url` (the emulator in tests, a self-hosted Bot API server in
some deployments) and carries PTB's `AIORateLimiter` for Telegram's bot-wide ~30 messages a
second and 20 a minute per group. The limiter never retries: on a 429 it would pause every chat,
while the delivery waits out a 429 for the chat that got it (`pacing`).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from telegram.ext import AIORateLimiter, Defaults, ExtBot
from telegram.request import HTTPXRequest

from core.io.settings import Settings

# Connections a bot may hold open: the notify sender's concurrent activities, or the chat
# application's concurrent updates (PTB's own default for an application).
SENDER_CONNECTIONS = 32
APPLICATION_CONNECTIONS = 256
READ_TIMEOUT_SECONDS = 15.0
WRITE_TIMEOUT_SECONDS = 15.0


class UpdatesRequest(HTTPXRequest):
    """The getUpdates connection; tells `on_poll` after each answered poll (for `/readyz`)."""

    def __init__(self, on_poll: Callable[[], None] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_poll = on_poll

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == HTTPStatus.OK and self._on_poll is not None:
            self._on_poll()
        return code, payload


def build_bot(
    settings: Settings,
    *,
    connections: int = SENDER_CONNECTIONS,
    polling: bool = False,
    on_poll: Callable[[], None] | None = None,
    defaults: Defaults | None = None,
) -> ExtBot[Any]:
    """A bot for `settings`' token. `polling` adds the getUpdates connection (one, read timeout
    past the long poll's) the chat application needs."""
    assert settings.telegram_bot_token is not None
    updates = (
        UpdatesRequest(
            on_poll, connection_pool_size=1, read_timeout=settings.telegram_poll_timeout + 10
        )
        if polling
        else None
    )
    return ExtBot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
        request=HTTPXRequest(
            connection_pool_size=connections,
            read_timeout=READ_TIMEOUT_SECONDS,
            write_timeout=WRITE_TIMEOUT_SECONDS,
        ),
        get_updates_request=updates,
        defaults=defaults,
        rate_limiter=AIORateLimiter(
            overall_max_rate=settings.telegram_max_messages_per_second, max_retries=0
        ),
    )
