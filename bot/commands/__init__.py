"""Chat commands, one module per concern. Importing this package registers them all, in the
order /help lists them; a module registers its commands with `bot.command_registry.command`.
Add a module here to add its commands."""

from __future__ import annotations

# isort: off
from bot.commands import jobs, status, stats, recovery, approval, schedules, heartbeat, info

# isort: on
from bot.command_registry import Command, Handler, registered_buttons, registered_commands

COMMAND_MODULES = (jobs, status, stats, recovery, approval, schedules, heartbeat, info)


def all_commands() -> dict[str, Command]:
    return registered_commands()


def all_buttons() -> dict[str, Handler]:
    return registered_buttons()
