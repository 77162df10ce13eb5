"""One process's shared resources: settings, the Temporal client, the app database and the
worker registry, opened (migrated, search attributes registered) and closed together."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from temporalio.client import Client

from activities.telegram.pacing import CHAT_PACER
from bot.operator import Operator, OperatorDeps
from core.domain.registry import WorkerRegistry
from core.io.db import Database
from core.io.group_minute import GroupMinute
from core.io.ledger import ReportLedgerStore
from core.io.plugins import discover_workers
from core.io.settings import Settings
from core.io.store import AuditLog, ChatStore
from core.io.temporal import connect, ensure_search_attributes

log = logging.getLogger("hbo")


@dataclass
class Runtime:
    """Shared resources of one process."""

    settings: Settings
    client: Client
    db: Database
    registry: WorkerRegistry

    @functools.cached_property
    def group_minute(self) -> GroupMinute:
        return GroupMinute(self.db)

    @property
    def ledger(self) -> ReportLedgerStore:
        return ReportLedgerStore(self.db)

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.db)

    @property
    def chats(self) -> ChatStore:
        return ChatStore(self.db)

    def operator(self, settings: Settings | None = None) -> Operator:
        """The chat operator over this process's resources (optionally other settings)."""
        return Operator(
            OperatorDeps(
                settings=settings or self.settings,
                client=self.client,
                registry=self.registry,
                chats=self.chats,
                ledger=self.ledger,
                audit=self.audit,
            )
        )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, client: Client | None = None) -> AsyncIterator[Runtime]:
    db = Database(settings.database_url)
    await db.migrate()
    client = client or await connect(settings)
    added = await ensure_search_attributes(client)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    runtime = Runtime(settings, client, db, discover_workers(settings.worker_plugins))
    # Every call this process puts into a group is counted where all processes see it.
    CHAT_PACER.group_recorder = runtime.group_minute.record_soon
    try:
        yield runtime
    finally:
        CHAT_PACER.group_recorder = None
        await db.close()
