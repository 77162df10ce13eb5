"""The heartbeat decides what to tell in one activity (gather) and tells it in another (report),
which a killed operator worker can retry minutes later. By then the job's own push may have
told more: the late report must not tell the older state after the newer one — nor wind the
ledger back to it, after which the next heartbeat told the newer state (the result) again."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.heartbeat.changes import ChangeActivities
from activities.heartbeat.deps import HeartbeatDeps
from activities.telegram.pacing import ChatPacer
from activities.telegram.telegram_sender import TelegramSender
from core.domain.heartbeat.models import JobChange, ReportRequest
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.registry import WorkerRegistry
from core.io.db import Database
from core.io.ledger import ReportLedgerStore
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings

CHAT = 6161
OVERTAKEN = "job-late01"  # the push told running, then completed, before the late report
FRESH = "job-late02"  # still untold: the same report tells it (the positive marker)
PUSH = "job-late01/run/7"


def change(job_id: str) -> JobChange:
    # As gather found them: running, with nothing told yet.
    return JobChange(
        job_id=job_id, state="running", ledger_status="running", goal="g", told_before=None
    )


async def test_a_late_report_does_not_tell_a_state_the_push_has_moved_past(
    database: Database, tmp_path: Path
) -> None:
    ledger = ReportLedgerStore(database)
    for status in ("running", "completed"):
        assert (await ledger.claim(OVERTAKEN, CHAT, status, PUSH)).claimed
        await ledger.confirm(OVERTAKEN, status, PUSH)
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        settings = make_settings(tmp_path, "unused:0", TELEGRAM_BASE_URL=emulator.base_url)
        emulator.add_chat(CHAT, "private")
        sender = TelegramSender(settings, pacer=ChatPacer())
        deps = HeartbeatDeps(
            settings, cast(Client, None), database, cast(WorkerRegistry, None), sender
        )
        env = ActivityEnvironment()
        env.info = dataclasses.replace(
            env.info, workflow_id="heartbeat-6161", workflow_run_id="r", activity_id="4", attempt=3
        )
        request = ReportRequest(
            target=HeartbeatTarget(chat_id=CHAT), changes=[change(OVERTAKEN), change(FRESH)]
        )
        try:
            result = await env.run(ChangeActivities(deps).report_changes, request)
        finally:
            await sender.close()
        texts = [m.text for m in emulator.messages_to(CHAT)]
    assert result.reported == [FRESH], result
    assert len(texts) == 1 and FRESH in texts[0], texts
    assert OVERTAKEN not in texts[0], texts
    # The ledger still shows the newer state, so the next heartbeat has nothing to repeat.
    entry = await ledger.entry(OVERTAKEN)
    assert entry is not None and entry.last_reported_status == "completed"
