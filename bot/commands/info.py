"""/start, /help and /workers (dispatch: which workers exist and which are online)."""

from __future__ import annotations

from bot import uploads, views
from bot.command_registry import command, registered_commands
from bot.router import EXAMPLE_PHRASES
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.render import esc


@command("workers", "/workers", "the workers and whether they are online now", "/workers")
async def workers_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    return [Reply(text=views.workers_text(await op.worker_status()))]


@command("help", "/help", "every command with an example", "/help")
async def help_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    return [Reply(text=help_text())]


@command("start", "/start", "what this bot does", "/start", menu=False)
async def start_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    return [Reply(text=help_text())]


def help_text() -> str:
    """Every command in the menu with an example, the plain phrases the router knows, and how
    files go with a command."""
    lines = [
        "<b>Heartbeat Operator</b> — I turn requests into durable background jobs "
        "and tell you when they change.",
        "",
    ]
    for cmd in registered_commands().values():
        if cmd.menu:
            lines.append(
                f"{esc(cmd.usage)} — {esc(cmd.summary)}\n   e.g. <code>{esc(cmd.example)}</code>"
            )
    phrases = [p for p, _ in EXAMPLE_PHRASES]
    lines += [
        "",
        "Plain words work too, no LLM needed: " + " · ".join(f"<i>{esc(p)}</i>" for p in phrases),
    ]
    return "\n".join(lines) + f"\n\n{uploads.HELP_TEXT}"
