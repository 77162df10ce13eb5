"""/start, /help and /workers (dispatch: which workers exist and which are online)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import views
from bot.commands import command
from bot.types import Incoming, Reply

if TYPE_CHECKING:
    from bot.operator import Operator


@command("workers", "/workers", "the workers and whether they are online now", "/workers")
async def workers_command(op: Operator, msg: Incoming, args: str) -> list[Reply]:
    return [Reply(text=views.workers_text(await op.worker_status()))]


@command("help", "/help", "every command with an example", "/help")
async def help_command(op: Operator, msg: Incoming, args: str) -> list[Reply]:
    return [Reply(text=op.help_text())]


@command("start", "/start", "what this bot does", "/start", menu=False)
async def start_command(op: Operator, msg: Incoming, args: str) -> list[Reply]:
    return [Reply(text=op.help_text())]
