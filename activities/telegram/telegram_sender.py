"""The notify activities' Telegram transport: a bot of its own, which also answers the
heartbeat's `getChat`. Imported only by a process with a bot token (`sender.build_sender`):
python-telegram-bot is not loaded in console mode."""

from __future__ import annotations

import asyncio

from telegram.error import BadRequest, Forbidden

from activities.telegram.bot import build_bot
from activities.telegram.delivery import TelegramDelivery
from activities.telegram.errors import redact
from activities.telegram.pacing import CHAT_PACER, ChatPacer
from activities.telegram.parts import OnSent
from activities.telegram.ptb_errors import telegram_error
from core.domain.messages import Button, ChatMessage, PhotoMessage
from core.io.settings import Settings


class TelegramSender:
    """The notify activities' transport: a bot of its own (`bot.build_bot`), started on first use
    and shut down by `close`. The heartbeat's `getChat` goes through the same bot, so a worker
    process holds one bot and one connection pool, closed in one place."""

    def __init__(self, settings: Settings, pacer: ChatPacer = CHAT_PACER) -> None:
        assert settings.telegram_bot_token is not None
        self.secret = settings.telegram_bot_token.get_secret_value()
        self.bot = build_bot(settings)
        self.delivery = TelegramDelivery(
            self.bot, settings.workspaces_dir, pacer=pacer, secret=self.secret
        )
        self._ready = False
        self._starting = asyncio.Lock()  # concurrent first calls start the bot once

    async def _start(self) -> None:
        async with self._starting:
            if self._ready:
                return
            try:
                await self.bot.initialize()
            except Exception as exc:
                raise telegram_error(exc, self.secret) from None
            self._ready = True

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        await self._start()
        return await self.delivery.send(message, skip_chunks=skip_chunks, on_sent=on_sent)

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        await self._start()
        return await self.delivery.edit(chat_id, message_id, text, buttons)

    def edit_room(self, chat_id: int) -> bool:
        """Whether a low-priority edit (a live card) may go to the chat now (`pacing`)."""
        return self.delivery.pacer.edit_room(chat_id)

    async def send_photo(self, message: PhotoMessage) -> int:
        await self._start()
        return await self.delivery.send_photo(message)

    async def chat_reachable(self, chat_id: int) -> tuple[bool, str]:
        """`getChat`: (True, "") or (False, Telegram's reason) when the bot cannot reach the chat.
        Anything else is not an answer and is raised as `telegram_error` maps it."""
        await self._start()
        try:
            await self.bot.get_chat(chat_id)
        except (Forbidden, BadRequest) as exc:
            return False, redact(exc.message, self.secret)[:200]
        except Exception as exc:
            raise telegram_error(exc, self.secret) from None
        return True, ""

    async def close(self) -> None:
        async with self._starting:
            if self._ready:
                await self.bot.shutdown()
                self._ready = False
