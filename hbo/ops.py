"""This process's `/metrics`, `/healthz` and `/readyz` (when HBO_METRICS_PORT is set): the SDK
exporters it merges (its own, the isolated child's) and the checks readiness looks at."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.io.health import (
    Readiness,
    bot_poll_check,
    database_check,
    exporter_check,
    temporal_check,
    workers_check,
)
from core.io.metrics import free_loopback_port, install_sdk_metrics
from core.io.settings import Settings
from hbo.runtime import Runtime

if TYPE_CHECKING:
    from core.io.ops_server import OpsServer

log = logging.getLogger("hbo")

# The bot is unready when its last successful getUpdates is older than the long-poll timeout
# plus this.
BOT_POLL_SLACK_SECONDS = 60.0


@dataclass
class Ops:
    """The ops server of one process and what its readiness looks at."""

    settings: Settings
    readiness: Readiness
    sdk_port: int | None = None
    child_sdk_port: int | None = None
    server: OpsServer | None = None

    @classmethod
    def prepare(cls, settings: Settings, process: str, *, child: bool = False) -> Ops:
        """Before any Temporal client connects: the SDK's runtime exports its metrics."""
        ops = cls(settings, Readiness())
        if settings.metrics_port is None:
            return ops
        ops.sdk_port = free_loopback_port()
        install_sdk_metrics(ops.sdk_port, process=process)
        if child:
            ops.child_sdk_port = free_loopback_port()
        return ops

    @contextlib.asynccontextmanager
    async def serving(self, runtime: Runtime, *, workers: bool, bot: bool) -> AsyncIterator[None]:
        if self.settings.metrics_port is None:
            yield
            return
        checks = self.readiness.checks
        checks["temporal"] = temporal_check(runtime.client)
        checks["database"] = database_check(runtime.db)
        if workers:
            checks["workers"] = workers_check(self.readiness)
        if self.child_sdk_port is not None:
            checks["isolated_worker"] = exporter_check(
                self.child_sdk_port, "the execution worker process"
            )
        if bot and not self.settings.console_mode:
            bound = self.settings.telegram_poll_timeout + BOT_POLL_SLACK_SECONDS
            checks["bot"] = bot_poll_check(self.readiness, bound)
        ports = [p for p in (self.sdk_port, self.child_sdk_port) if p is not None]
        # Imported only here: its HTTP server is memory that `make run` (no metrics) never uses.
        from core.io.ops_server import OpsServer

        self.server = OpsServer(
            self.settings.metrics_host, self.settings.metrics_port, self.readiness, ports
        )
        await self.server.start()
        log.info("metrics and health on %s", self.server.url)
        try:
            yield
        finally:
            await self.server.stop()
