"""The product's processes, run in-process for tests: workers on every queue plus the Telegram
bot polling the Bot API emulator — the same composition code `hbo up` uses."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.telegram.sender import build_sender
from bot.operator import Operator
from bot.telegram_app import build_application, run_telegram
from core.domain.temporal_names import ALL_QUEUES
from core.io.health import Readiness
from core.io.settings import Settings
from hbo.runtime import Runtime, open_runtime
from hbo.workers import run_workers
from tests.support.botapi import BotApiEmulator
from tests.support.namespaces import new_namespace

TEST_TOKEN = "123456:TEST-token-not-real"
ALLOWED_USER = 1001
STRANGER = 6666


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(data_dir: Path, temporal_target: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_ALLOWED_USER_IDS": f"{ALLOWED_USER},1002,1003",
        "TELEGRAM_POLL_TIMEOUT": 1,
        "TEMPORAL_ADDRESS": temporal_target,
        "HBO_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'operator.db'}",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        # Tests watch schedules fire within seconds; the product's minimum is a minute.
        "SCHEDULE_MIN_INTERVAL_SECONDS": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Stack:
    runtime: Runtime
    operator: Operator
    stop: asyncio.Event

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings,
    client: Client,
    *,
    queues: tuple[str, ...] = ALL_QUEUES,
    bot: bool = True,
    readiness: Readiness | None = None,
) -> AsyncIterator[Stack]:
    async with open_runtime(settings, client) as runtime:
        stop = asyncio.Event()
        operator = runtime.operator()
        tasks = [
            asyncio.create_task(
                run_workers(runtime, queues, stop, build_sender(settings), readiness)
            )
        ]
        if bot:
            app = build_application(
                settings, operator, on_poll=readiness.polled if readiness else None
            )
            tasks.append(
                asyncio.create_task(run_telegram(app, stop, settings.telegram_poll_timeout))
            )
        try:
            yield Stack(runtime=runtime, operator=operator, stop=stop)
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(
                    result, asyncio.CancelledError
                ):
                    raise result


@contextlib.asynccontextmanager
async def own_deployment(
    dev_target: str, client: Client, data_dir: Path, name: str, **overrides: Any
) -> AsyncIterator[tuple[Stack, BotApiEmulator, Client]]:
    """A stack of its own on the session's dev server: its own namespace (no other test's
    workers take its tasks) and its own Bot API emulator, with `overrides` as settings."""
    namespace_client = await new_namespace(dev_target, client, name)
    async with BotApiEmulator(token=TEST_TOKEN) as botapi:
        settings = make_settings(
            data_dir,
            dev_target,
            TELEGRAM_BASE_URL=botapi.base_url,
            TEMPORAL_NAMESPACE=namespace_client.namespace,
            **overrides,
        )
        async with running_stack(settings, namespace_client) as stack:
            yield stack, botapi, namespace_client
