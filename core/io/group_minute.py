"""A group's minute counted across processes: every message or edit any process of the bot puts
into a group is a row (`GroupCall`), so a live card's refresh in the notify worker sees the bot's
replies too. Telegram allows a group 20 a minute; each process's pacer counts only its own calls.

Cheap by design: only group calls are written (a private chat has no minute budget), each write
also deletes that group's rows older than `KEPT`, and the live card reads one indexed count per
refresh in a group."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from core.io.db import Database
from core.io.store import utcnow
from core.io.tables import GroupCall

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=60)
KEPT = timedelta(minutes=3)


class GroupMinute:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._writes: set[asyncio.Task[None]] = set()

    async def record(self, chat_id: int, at: datetime | None = None) -> None:
        at = at or utcnow()
        async with self.db.session() as session:
            await session.execute(insert(GroupCall).values(chat_id=chat_id, at=at))
            await session.execute(
                delete(GroupCall).where(GroupCall.chat_id == chat_id, GroupCall.at < at - KEPT)
            )

    def record_soon(self, chat_id: int) -> None:
        """From a pacer's turn (sync): written in the background; a failed write only makes the
        count lower, never holds a send."""
        at = utcnow()

        async def write() -> None:
            try:
                await self.record(chat_id, at)
            except Exception as exc:
                log.warning("group call not recorded: %s", type(exc).__name__)

        task = asyncio.get_running_loop().create_task(write())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def count(self, chat_id: int, now: datetime | None = None) -> int:
        """Calls into the group in the last minute, by every process."""
        now = now or utcnow()
        async with self.db.session() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(GroupCall)
                .where(GroupCall.chat_id == chat_id, GroupCall.at > now - WINDOW)
            )
        return int(found or 0)
