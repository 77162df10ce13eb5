"""Repositories over the operator database: chats and the audit log (the report ledger is
`core.io.ledger`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from core.io.db import Database
from core.io.tables import AuditEntry, Chat


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_statement(db: Database, table: type) -> Insert:
    """An INSERT that can say ON CONFLICT in the database's own dialect."""
    dialect = postgresql if db.dialect == "postgresql" else sqlite
    return dialect.insert(table)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ChatActivity:
    chat_id: int
    last_activity_at: datetime | None
    message_count: int


class ChatStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def touch(
        self,
        chat_id: int,
        *,
        chat_type: str,
        user_id: int | None,
        title: str = "",
        now: datetime | None = None,
    ) -> None:
        """Record that a person spoke in this chat (drives busy checks and heartbeat context)."""
        now = now or utcnow()
        stmt = insert_statement(self.db, Chat).values(
            chat_id=chat_id,
            chat_type=chat_type,
            title=title,
            last_user_id=user_id,
            last_activity_at=now,
            message_count=1,
            created_at=now,
        )
        stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=[Chat.chat_id],
            set_={
                "chat_type": chat_type,
                "title": title or Chat.title,
                "last_user_id": user_id,
                "last_activity_at": now,
                "message_count": Chat.message_count + 1,
            },
        )
        async with self.db.session() as session:
            await session.execute(stmt)

    async def get(self, chat_id: int) -> Chat | None:
        async with self.db.session() as session:
            return await session.get(Chat, chat_id)

    async def all(self) -> list[Chat]:
        async with self.db.session() as session:
            return list((await session.scalars(select(Chat).order_by(Chat.chat_id))).all())


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        action: str,
        *,
        user_id: int | None,
        chat_id: int | None,
        detail: str = "",
        job_id: str | None = None,
    ) -> None:
        async with self.db.session() as session:
            session.add(
                AuditEntry(
                    at=utcnow(),
                    user_id=user_id,
                    chat_id=chat_id,
                    action=action,
                    detail=detail[:2000],
                    job_id=job_id,
                )
            )

    async def for_job(self, job_id: str, limit: int = 20) -> list[AuditEntry]:
        """A job's own entries (approval requests and decisions), oldest first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.job_id == job_id)
                .order_by(AuditEntry.id.desc())
                .limit(limit)
            )
            return list(reversed(rows.all()))

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            )
            return list(rows.all())
