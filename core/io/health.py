"""One small HTTP server per process: `/metrics`, `/healthz` and `/readyz`.

`/healthz` answers 200 while the process's event loop runs. `/readyz` runs every readiness
check (each bounded by a timeout) and answers 200 when all pass, else 503; both bodies are JSON
naming each check and, when it fails, why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from temporalio.client import Client
from temporalio.worker import Worker

from core.io.db import Database
from core.io.metrics import scrape

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


class OpsServer:
    """`/metrics`, `/healthz`, `/readyz` on host:port (port 0: a free one, see `url`)."""

    def __init__(
        self, host: str, port: int, readiness: Readiness, sdk_ports: Sequence[int] = ()
    ) -> None:
        self.host, self.port = host, port
        self.readiness = readiness
        self.sdk_ports = list(sdk_ports)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/metrics"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise OpsPortError(
                f"HBO_METRICS_PORT {self.port} on {self.host} cannot be used ({exc.strerror}); "
                "choose a free port or unset HBO_METRICS_PORT"
            ) from None
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await scrape(self.sdk_ports)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "up"})

    async def _readyz(self, request: web.Request) -> web.Response:
        checks = await self.readiness.report()
        ready = all(value == "ok" for value in checks.values())
        return web.json_response(
            {"status": "ready" if ready else "unready", "checks": checks},
            status=200 if ready else 503,
        )
