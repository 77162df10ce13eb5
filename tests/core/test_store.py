"""The operator database on SQLite and PostgreSQL (asyncpg): schema, chats, the report ledger's
compare-and-set, the audit log. PostgreSQL runs where a server is reachable; CI requires it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from core.io.db import Database
from core.io.ledger import ClaimOutcome, ReportLedgerStore, SummaryClaim
from core.io.store import AuditLog, ChatStore

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


PUSH = "job-aaa111/run/1"  # a job's notify activity: every retry of it shares this owner
PUSH_RETRY = PUSH
HEARTBEAT = "heartbeat-1-2026/run/3"


async def test_ledger_reports_each_status_once(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    assert (await ledger.claim("job-aaa111", 1, "running", PUSH, now=T0)).claimed
    held = await ledger.claim("job-aaa111", 1, "running", HEARTBEAT, now=T0)
    assert held.outcome is ClaimOutcome.held  # someone is on it: not "already reported"
    assert held.held_until == T0 + timedelta(seconds=120)
    await ledger.confirm("job-aaa111", "running", PUSH, now=T0)
    told = await ledger.claim("job-aaa111", 1, "running", HEARTBEAT, now=T0)
    assert told.outcome is ClaimOutcome.reported  # the ledger shows it told
    assert (await ledger.claim("job-aaa111", 1, "completed", PUSH, now=T0)).claimed
    assert await ledger.last_reported(["job-aaa111", "job-zzz999"]) == {"job-aaa111": "running"}


async def test_a_retry_of_the_same_send_takes_its_claim_back_at_once(database: Database) -> None:
    """A crash between claim and confirm: the retry (same owner) sends again; never "already
    reported" while the status was not told."""
    ledger = ReportLedgerStore(database, lease=timedelta(seconds=120))
    assert (await ledger.claim("job-bbb222", 1, "completed", PUSH, now=T0)).claimed
    retry = await ledger.claim(
        "job-bbb222", 1, "completed", PUSH_RETRY, now=T0 + timedelta(seconds=1)
    )
    assert retry.claimed
    # Anyone else waits for the lease...
    other = await ledger.claim(
        "job-bbb222", 1, "completed", HEARTBEAT, now=T0 + timedelta(seconds=60)
    )
    assert other.outcome is ClaimOutcome.held
    # ...and takes over once it expires (a crashed owner is repeated, never lost).
    late = await ledger.claim(
        "job-bbb222", 1, "completed", HEARTBEAT, now=T0 + timedelta(seconds=122)
    )
    assert late.claimed
    # The first owner's late confirm records the status but leaves the new owner's claim alone.
    await ledger.confirm("job-bbb222", "completed", PUSH, now=T0 + timedelta(seconds=123))
    entry = await ledger.entry("job-bbb222")
    assert entry is not None and entry.last_reported_status == "completed"
    assert entry.claim_owner == HEARTBEAT


async def test_a_failed_send_releases_its_claim_at_once(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    assert (await ledger.claim("job-ccc333", 1, "failed", PUSH, now=T0)).claimed
    await ledger.release("job-ccc333", HEARTBEAT)  # not the owner: nothing changes
    assert (await ledger.claim("job-ccc333", 1, "failed", HEARTBEAT, now=T0)).outcome is (
        ClaimOutcome.held
    )
    await ledger.release("job-ccc333", PUSH)
    entry = await ledger.entry("job-ccc333")
    assert entry is not None and entry.claim_owner is None and entry.claim_until is None
    assert (await ledger.claim("job-ccc333", 1, "failed", HEARTBEAT, now=T0)).claimed


async def test_concurrent_claims_let_exactly_one_sender_through(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    results = await asyncio.gather(
        *(ledger.claim("job-ddd444", 1, "completed", f"owner-{i}") for i in range(8))
    )
    assert sorted(r.outcome.value for r in results) == ["claimed"] + ["held"] * 7


async def test_mark_reported_records_an_announcement(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-eee555", 9, "running", now=T0)
    told = await ledger.claim("job-eee555", 9, "running", PUSH, now=T0)
    assert told.outcome is ClaimOutcome.reported
    assert (await ledger.claim("job-eee555", 9, "completed", PUSH, now=T0)).claimed


async def test_a_first_only_mark_does_not_wind_a_told_result_back(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    await ledger.mark_reported("job-fff666", 9, "running", now=T0, first_only=True)
    assert (await ledger.entry("job-fff666")).last_reported_status == "running"  # type: ignore[union-attr]
    await ledger.mark_reported("job-fff666", 9, "completed", now=T0)
    await ledger.mark_reported("job-fff666", 9, "running", now=T0, first_only=True)
    assert (await ledger.entry("job-fff666")).last_reported_status == "completed"  # type: ignore[union-attr]


async def test_audit_log_keeps_the_newest_first(database: Database) -> None:
    audit = AuditLog(database)
    await audit.record("refused", user_id=666, chat_id=666, detail="/exec rm -rf /")
    await audit.record("cancel", user_id=1, chat_id=1, detail="job-abc123")
    entries = await audit.recent(10)
    assert [e.action for e in entries] == ["cancel", "refused"]
    assert entries[1].user_id == 666 and entries[1].at.tzinfo is not None


async def test_a_summary_is_added_once_or_skipped(database: Database) -> None:
    ledger = ReportLedgerStore(database)
    claim = await ledger.claim("job-sum1", 9, "completed", "wf/run/1")
    assert claim.claimed
    await ledger.confirm("job-sum1", "completed", "wf/run/1", message_id=77)
    # A retry of the result's send finds it told, and where.
    again = await ledger.claim("job-sum1", 9, "completed", "wf/run/1")
    assert again.outcome is ClaimOutcome.reported and again.message_id == 77

    assert await ledger.claim_summary("job-sum1", 9, "wf/run/2") is SummaryClaim.claimed
    # The same attempt's retry after a crash: it may have reached the chat.
    assert await ledger.claim_summary("job-sum1", 9, "wf/run/2") is SummaryClaim.resumed
    assert await ledger.claim_summary("job-sum1", 9, "other") is SummaryClaim.settled
    await ledger.release_summary("job-sum1", "wf/run/2")  # an error answer: nothing was sent
    assert await ledger.claim_summary("job-sum1", 9, "wf/run/2") is SummaryClaim.claimed
    await ledger.settle_summary("job-sum1", "added")
    assert await ledger.claim_summary("job-sum1", 9, "wf/run/2") is SummaryClaim.settled
    entry = await ledger.entry("job-sum1")
    assert entry is not None and entry.summary == "added" and entry.message_id == 77
