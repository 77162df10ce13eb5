"""Where chat messages go: the `Sender` protocol and the choice between the console and
Telegram (`telegram_sender.TelegramSender`, which also answers the heartbeat's `getChat`)."""

from __future__ import annotations

from typing import Protocol

from activities.telegram.console import ConsoleSender
from activities.telegram.parts import OnSent
from core.domain.messages import Button, ChatMessage, PhotoMessage
from core.io.settings import Settings


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


def build_sender(settings: Settings) -> Sender:
    if settings.console_mode:
        return ConsoleSender(pictures=settings.data_path / "pictures")
    # Imported here, not above: python-telegram-bot (~15-30 MB resident) is loaded only by a
    # process that talks to Telegram, never in console mode.
    from activities.telegram.telegram_sender import TelegramSender

    return TelegramSender(settings)
