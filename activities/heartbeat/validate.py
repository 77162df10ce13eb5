"""Target validation: before a group target's run, ask Telegram (`getChat`) whether the bot can
still reach the chat. The answer — yes or no — is cached for an hour in the database by the
caller; a transient error is not an answer and is retried instead.

The question goes through the process's sender (`TelegramSender.chat_reachable`): no second bot
is built, and the sender's `close` shuts down the one there is. A sender without that question
(the console) always reaches its chat."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from activities.telegram.sender import Sender


class ChatValidator(Protocol):
    async def check(self, chat_id: int) -> tuple[bool, str]:
        """(reachable, reason when not). Raises for a transient failure."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ReachabilityAsker(Protocol):
    async def chat_reachable(self, chat_id: int) -> tuple[bool, str]: ...


class TelegramChatValidator:
    """`getChat` through the sender's bot; the sender owns the bot, so `close` leaves it open."""

    def __init__(self, sender: ReachabilityAsker) -> None:
        self.sender = sender

    async def check(self, chat_id: int) -> tuple[bool, str]:
        return await self.sender.chat_reachable(chat_id)

    async def close(self) -> None:
        return None


class ConsoleChatValidator:
    """The console chat (or any sender that is not Telegram) is always there."""

    async def check(self, chat_id: int) -> tuple[bool, str]:
        return True, ""

    async def close(self) -> None:
        return None


def build_validator(sender: Sender) -> ChatValidator:
    if isinstance(sender, ReachabilityAsker):
        return TelegramChatValidator(sender)
    return ConsoleChatValidator()
