"""Chat commands, one module per concern. A module registers its commands with `@command`;
help text and Telegram's command menu are generated from this registry, so they never drift."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.operator import Operator
    from bot.types import Incoming, Reply

Handler = Callable[["Operator", "Incoming", str], Awaitable[list["Reply"]]]

# Modules that define commands, in help order. Add a module here to add its commands.
COMMAND_MODULES = (
    "bot.commands.jobs",
    "bot.commands.status",
    "bot.commands.stats",
    "bot.commands.recovery",
    "bot.commands.approval",
    "bot.commands.schedules",
    "bot.commands.heartbeat",
    "bot.commands.info",
)


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


def all_commands() -> dict[str, Command]:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def all_buttons() -> dict[str, Handler]:
    all_commands()
    return dict(_BUTTONS)
