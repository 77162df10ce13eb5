"""The job's push meets a claim someone else holds (the heartbeat is telling the same status
right now): it must wait for that claim — fail this attempt with a retry delay up to the
lease's end — and never read it as "already reported", which would drop the result whenever
the heartbeat's send then failed. After the lease, the retry takes over and sends."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from activities.telegram.pacing import ChatPacer
from activities.telegram.telegram_sender import TelegramSender
from core.domain.messages import ChatMessage, JobNotification
from core.io.db import Database
from core.io.ledger import ClaimOutcome, ReportLedgerStore
from core.io.store import AuditLog, utcnow
from core.io.tables import ReportLedger
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings

CHAT = 5252
JOB = "job-held01"
HEARTBEAT = "heartbeat-5252/run/1"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'held.db'}")
    await database.migrate()
    yield database
    await database.close()


def push_attempt(number: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id=JOB, workflow_run_id="run-1", activity_id="9", attempt=number
    )
    return env


async def test_a_claim_held_by_the_heartbeat_is_waited_for_then_taken_over(
    db: Database, tmp_path: Path
) -> None:
    lease = timedelta(seconds=60)
    ledger = ReportLedgerStore(db, lease=lease)
    claimed_at = utcnow()
    held = await ledger.claim(JOB, CHAT, "completed", HEARTBEAT, now=claimed_at)
    assert held.claimed
    note = JobNotification(
        job_id=JOB,
        status="completed",
        message=ChatMessage(chat_id=CHAT, text=f"✅ {JOB} · completed\nheld-claim-result"),
    )
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        settings = make_settings(tmp_path, "unused:0", TELEGRAM_BASE_URL=emulator.base_url)
        sender = TelegramSender(settings, pacer=ChatPacer())
        notify = NotifyActivities(sender, ledger, AuditLog(db))
        try:
            with pytest.raises(ApplicationError) as raised:
                await push_attempt(1).run(notify.job_update, note)
            err = raised.value
            assert err.type == "ClaimHeld" and not err.non_retryable, err
            # The retry comes when the other claim's lease ends (at most MAX_HELD_WAIT).
            assert err.next_retry_delay is not None
            assert timedelta(seconds=1) <= err.next_retry_delay <= lease

            # The heartbeat's send failed and its lease ran out: the push's retry tells it.
            entry = await ledger.entry(JOB)
            assert entry is not None and entry.last_reported_status is None
            expired = claimed_at - lease - timedelta(seconds=1)
            await _age_claim(ledger, expired)
            result = await push_attempt(2).run(notify.job_update, note)
        finally:
            await sender.close()
    assert result.sent, result
    texts = [m.plain_text or "" for m in emulator.messages_to(CHAT)]
    assert len(texts) == 1 and "held-claim-result" in texts[0], texts
    entry = await ledger.entry(JOB)
    assert entry is not None and entry.last_reported_status == "completed"
    assert entry.claim_owner is None
    again = await ledger.claim(JOB, CHAT, "completed", HEARTBEAT)
    assert again.outcome is ClaimOutcome.reported


async def _age_claim(ledger: ReportLedgerStore, until: datetime) -> None:
    """Move the live claim's lease end into the past (as if its holder died long ago)."""
    async with ledger.db.session() as session:
        await session.execute(
            update(ReportLedger).where(ReportLedger.job_id == JOB).values(claim_until=until)
        )
