"""A fourth worker from a plugin is discovered and dispatched to, with no operator change."""

from __future__ import annotations

import asyncio
from pathlib import Path

from activities.telegram.sender import build_sender
from bot.types import Incoming
from core.io.plugins import discover_workers
from hbo.runtime import open_runtime
from hbo.workers import all_queues, run_workers
from tests.support.botapi import BotApiEmulator
from tests.support.stack import ALLOWED_USER, Stack, make_settings


def test_builtins_are_registered_through_entry_points_like_plugins() -> None:
    registry = discover_workers()
    assert {"research", "execution", "reporting"} <= set(registry.names())
    assert "sql" not in registry
    assert "sql" in discover_workers(["tests.plugins.sql_worker:WORKER"])


async def test_plugin_worker_is_discovered_and_used(
    stack: Stack, botapi: BotApiEmulator, session_data_dir: Path
) -> None:
    settings = make_settings(
        session_data_dir,
        stack.settings.temporal_target,
        TELEGRAM_BASE_URL=botapi.base_url,
        HBO_WORKER_PLUGINS="tests.plugins.sql_worker:WORKER",
    )
    client = stack.runtime.client
    async with open_runtime(settings, client) as runtime:
        assert "sql" in all_queues(runtime.registry)
        operator = runtime.operator()
        chat = ALLOWED_USER

        async def ask(text: str) -> str:
            replies = await operator.handle(Incoming(user_id=ALLOWED_USER, chat_id=chat, text=text))
            return "\n".join(r.text for r in replies)

        # Registered but nobody polls its queue yet: listed as offline.
        assert "🔴 <b>sql</b>" in await ask("/workers")

        stop = asyncio.Event()
        sql_workers = asyncio.create_task(
            run_workers(runtime, ["sql"], stop, build_sender(settings))
        )
        try:
            for _ in range(50):
                if "🟢 <b>sql</b>" in await ask("/workers"):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the sql worker never showed as online")

            card = await ask("/dispatch sql SELECT 6 * 7")
            assert "worker: <b>sql</b>" in card
            job_id = card.split("<b>")[1].split("</b>")[0]
            done = await botapi.wait_for_shown(
                lambda m: (
                    m.chat_id == chat and job_id in m.plain_text and "completed" in m.plain_text
                ),
                timeout=20,
            )
            assert "42" in done.plain_text
            refusal = await ask("/dispatch nosuchworker do things")
            assert "no worker named 'nosuchworker'" in refusal and "sql" in refusal
        finally:
            stop.set()
            await sql_workers
