"""The operator database on SQLite and PostgreSQL (asyncpg): schema, chats, the report ledger's
compare-and-set, the audit log. PostgreSQL runs where a server is reachable; CI requires it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from core.db import Database
from core.store import AuditLog, ChatStore, ReportLedgerStore

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_migrations_create_the_schema(database: Database) -> None:
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert {
        "chats",
        "report_ledger",
        "audit_log",
        "conversation_turns",
        "alembic_version",
    } <= tables
    await database.migrate()  # idempotent: a restart migrates again without harm


async def test_chat_activity_is_counted(database: Database) -> None:
    chats = ChatStore(database)
    await chats.touch(-100123, chat_type="supergroup", user_id=7, title="ops", now=T0)
    await chats.touch(-100123, chat_type="supergroup", user_id=8, now=T0 + timedelta(minutes=5))
    chat = await chats.get(-100123)
    assert chat is not None
    assert (chat.message_count, chat.last_user_id, chat.title) == (2, 8, "ops")
    assert chat.last_activity_at == T0 + timedelta(minutes=5)  # timezone-aware on both engines
    assert await chats.get(42) is None


async def test_ledger_reports_each_status_once(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    assert await ledger.claim("job-aaa111", 1, "running", now=T0)
    assert not await ledger.claim("job-aaa111", 1, "running", now=T0)  # someone is on it
    await ledger.confirm("job-aaa111", "running", now=T0)
    assert not await ledger.claim("job-aaa111", 1, "running", now=T0)  # already told
    assert await ledger.claim("job-aaa111", 1, "completed", now=T0)  # a new change
    assert await ledger.last_reported(["job-aaa111", "job-zzz999"]) == {"job-aaa111": "running"}


async def test_a_crashed_sender_is_repeated_not_lost(database: Database) -> None:
    ledger = ReportLedgerStore(database, lease=timedelta(seconds=120))
    assert await ledger.claim("job-bbb222", 1, "completed", now=T0)
    # The sender died between claim and confirm: nobody may send while the lease lives...
    assert not await ledger.claim("job-bbb222", 1, "completed", now=T0 + timedelta(seconds=60))
    # ...and once it expires the change is reported again.
    assert await ledger.claim("job-bbb222", 1, "completed", now=T0 + timedelta(seconds=121))
    # A failed send gives its claim back at once.
    assert await ledger.claim("job-ccc333", 1, "failed", now=T0)
    await ledger.release("job-ccc333", "failed")
    assert await ledger.claim("job-ccc333", 1, "failed", now=T0)


async def test_concurrent_claims_let_exactly_one_sender_through(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    results = await asyncio.gather(*(ledger.claim("job-ddd444", 1, "completed") for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_mark_reported_records_an_announcement(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-eee555", 9, "running", now=T0)
    assert not await ledger.claim("job-eee555", 9, "running", now=T0)
    assert await ledger.claim("job-eee555", 9, "completed", now=T0)


async def test_audit_log_keeps_the_newest_first(database: Database) -> None:
    audit = AuditLog(database)
    await audit.record("refused", user_id=666, chat_id=666, detail="/exec rm -rf /")
    await audit.record("cancel", user_id=1, chat_id=1, detail="job-abc123")
    entries = await audit.recent(10)
    assert [e.action for e in entries] == ["cancel", "refused"]
    assert entries[1].user_id == 666 and entries[1].at.tzinfo is not None
