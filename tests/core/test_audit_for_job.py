"""The audit log keeps the job an entry is about (migration 0006), on SQLite and PostgreSQL."""

from __future__ import annotations

from core.io.db import Database
from core.io.store import AuditLog


async def test_a_jobs_entries_come_back_in_order_and_only_its_own(database: Database) -> None:
    audit = AuditLog(database)
    await audit.record("approval_requested", user_id=1, chat_id=1, detail="argv", job_id="job-a")
    await audit.record("approval_requested", user_id=2, chat_id=2, job_id="job-b")
    await audit.record("cancel", user_id=1, chat_id=1, detail="job-a")  # an older kind of entry
    await audit.record("approved", user_id=1, chat_id=1, detail="at T", job_id="job-a")
    entries = await audit.for_job("job-a")
    assert [(e.action, e.user_id, e.detail) for e in entries] == [
        ("approval_requested", 1, "argv"),
        ("approved", 1, "at T"),
    ]
    assert await audit.for_job("job-c") == []
