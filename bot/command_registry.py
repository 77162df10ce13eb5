"""The registry of chat commands and buttons. A module in `bot/commands/` registers its commands
with `@command`; help text and Telegram's command menu are generated from this registry, so they
never drift."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.services import ChatServices
from bot.types import Incoming, Reply

Handler = Callable[[ChatServices, Incoming, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    example: str
    handler: Handler
    menu: bool = True  # listed in Telegram's command menu (setMyCommands)


_REGISTRY: dict[str, Command] = {}
_BUTTONS: dict[str, Handler] = {}


def command(
    name: str, usage: str, summary: str, example: str, *, menu: bool = True
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _REGISTRY[name] = Command(name, usage, summary, example, handler, menu)
        return handler

    return register


def button(action: str) -> Callable[[Handler], Handler]:
    """Register the handler for inline-button callback data `<action>:<id>`."""

    def register(handler: Handler) -> Handler:
        _BUTTONS[action] = handler
        return handler

    return register


def registered_commands() -> dict[str, Command]:
    """Every command registered so far (`bot.commands.all_commands` imports them all first)."""
    return dict(_REGISTRY)


def registered_buttons() -> dict[str, Handler]:
    return dict(_BUTTONS)
