"""What `/readyz` looks at: the readiness checks of one process, each bounded by a timeout.

The HTTP server answering `/metrics`, `/healthz` and `/readyz` is `core/io/ops_server.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import text
from temporalio.client import Client
from temporalio.worker import Worker

from core.io.db import Database

# A check answers None when ready, else a short reason.
Check = Callable[[], Awaitable[str | None]]
CHECK_TIMEOUT = 3.0


@dataclass
class Readiness:
    """What `/readyz` looks at; the components fill it in as they start."""

    checks: dict[str, Check] = field(default_factory=dict)
    workers: list[Worker] | None = None  # None until the process's workers are built
    last_poll: float | None = None  # monotonic time of the bot's last successful getUpdates

    def polled(self) -> None:
        self.last_poll = time.monotonic()

    async def report(self) -> dict[str, str]:
        names = list(self.checks)
        results = await asyncio.gather(*(_bounded(self.checks[name]) for name in names))
        return {name: result or "ok" for name, result in zip(names, results, strict=True)}


async def _bounded(check: Check) -> str | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await check()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]


def temporal_check(client: Client) -> Check:
    async def check() -> str | None:
        ok = await client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT))
        return None if ok else "the Temporal frontend reports not serving"

    return check


def database_check(db: Database) -> Check:
    async def check() -> str | None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
        return None

    return check


def workers_check(readiness: Readiness) -> Check:
    async def check() -> str | None:
        if readiness.workers is None:
            return "no worker started yet"
        stopped = [w.task_queue for w in readiness.workers if not w.is_running]
        return f"not polling: {', '.join(stopped)}" if stopped else None

    return check


def bot_poll_check(readiness: Readiness, within: float) -> Check:
    """The bot's last successful poll of the Bot API is at most `within` seconds old."""

    async def check() -> str | None:
        if readiness.last_poll is None:
            return "no successful getUpdates yet"
        age = time.monotonic() - readiness.last_poll
        return None if age <= within else f"last successful getUpdates {age:.0f} s ago"

    return check


def exporter_check(port: int, what: str) -> Check:
    """Another process of the tree is up when its SDK metrics exporter answers."""

    async def check() -> str | None:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as http:
            try:
                (await http.get(f"http://127.0.0.1:{port}/metrics")).raise_for_status()
            except httpx.HTTPError:
                return f"{what} does not answer"
        return None

    return check


class OpsPortError(RuntimeError):
    """The ops endpoint's port cannot be bound."""
