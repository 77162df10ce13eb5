"""Target validation (seed 002): before a group target's run, ask Telegram (`getChat`) whether
the bot can still reach the chat. The answer — yes or no — is cached for an hour in the
database by the caller; a transient error is not an answer and is retried instead."""

from __future__ import annotations

from typing import Protocol

from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from temporalio.exceptions import ApplicationError

from core.settings import Settings


class ChatValidator(Protocol):
    async def check(self, chat_id: int) -> tuple[bool, str]:
        """(reachable, reason when not). Raises for a transient failure."""
        ...

    async def close(self) -> None: ...


class TelegramChatValidator:
    def __init__(self, settings: Settings) -> None:
        assert settings.telegram_bot_token is not None
        self._secret = settings.telegram_bot_token.get_secret_value()
        self.bot = Bot(
            self._secret,
            base_url=settings.telegram_base_url,
            request=HTTPXRequest(connection_pool_size=4, read_timeout=15, write_timeout=15),
        )
        self._ready = False

    async def check(self, chat_id: int) -> tuple[bool, str]:
        try:
            if not self._ready:
                await self.bot.initialize()
                self._ready = True
            await self.bot.get_chat(chat_id)
        except (Forbidden, BadRequest) as exc:
            return False, exc.message.replace(self._secret, "[REDACTED]")[:200]
        except InvalidToken:
            raise ApplicationError(
                "the Telegram bot token was rejected", type="BadToken", non_retryable=True
            ) from None
        except RetryAfter as exc:
            raise ApplicationError("Telegram rate limit on getChat", type="RateLimited") from exc
        except TelegramError as exc:
            raise ApplicationError(
                f"getChat failed: {type(exc).__name__}", type="TelegramUnavailable"
            ) from None
        return True, ""

    async def close(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False


class ConsoleChatValidator:
    """The console chat is always there."""

    async def check(self, chat_id: int) -> tuple[bool, str]:
        return True, ""

    async def close(self) -> None:
        return None


def build_validator(settings: Settings) -> ChatValidator:
    if settings.console_mode:
        return ConsoleChatValidator()
    return TelegramChatValidator(settings)
