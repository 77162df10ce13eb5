"""The chat side of a process: the Telegram bot, or the console chat, over the operator."""

from __future__ import annotations

import asyncio

from bot.console import run_console
from core.io.health import Readiness
from hbo.runtime import Runtime


async def run_chat(
    runtime: Runtime, stop: asyncio.Event, readiness: Readiness | None = None
) -> None:
    operator = runtime.operator()
    if runtime.settings.console_mode:
        await run_console(operator, stop)
    else:
        # Imported here, not above: python-telegram-bot (~15-30 MB resident) is loaded only by a
        # process that talks to Telegram, never in console mode.
        from bot.telegram_app import build_application, run_telegram

        app = build_application(
            runtime.settings, operator, on_poll=readiness.polled if readiness else None
        )
        await run_telegram(app, stop, runtime.settings.telegram_poll_timeout)
