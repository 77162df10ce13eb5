"""One small HTTP server per process: `/metrics`, `/healthz` and `/readyz`.

`/healthz` answers 200 while the process's event loop runs. `/readyz` runs every readiness
check (`core/io/health.py`) and answers 200 when all pass, else 503; both bodies are JSON naming
each check and, when it fails, why.

A module of its own because aiohttp is a few MB of memory: a process imports it only when it
serves these (HBO_METRICS_PORT set), and `make run` does not.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from core.io.health import OpsPortError, Readiness
from core.io.metrics import scrape


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
