"""A job's result waits for its card's edit in flight, so a card edit must heartbeat while it
waits (a chat's rate limit, a slow Bot API): with the workflow's short heartbeat timeout, an
edit on a killed worker is then retried within seconds instead of after its whole 30 s
start-to-close timeout, which held the result back that long."""

from __future__ import annotations

import asyncio
from typing import cast

from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from activities.telegram.sender import Sender
from core.domain.messages import CardEdit
from core.io.ledger import ReportLedgerStore
from core.io.store import AuditLog


class _SlowEdits:
    """A sender whose edit is answered only when the test says so."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: object) -> bool:
        await self.answer.wait()
        return True


async def test_a_card_edit_heartbeats_while_it_waits() -> None:
    sender = _SlowEdits()
    notify = NotifyActivities(
        cast(Sender, sender), cast(ReportLedgerStore, None), cast(AuditLog, None)
    )
    beats: list[tuple[object, ...]] = []
    two_beats = asyncio.Event()

    def on_heartbeat(*details: object) -> None:
        beats.append(details)
        if len(beats) >= 2:
            two_beats.set()

    env = ActivityEnvironment()
    env.on_heartbeat = on_heartbeat
    edit = CardEdit(job_id="job-edit01", chat_id=7, message_id=3, text="card", buttons=[])
    running = asyncio.create_task(env.run(notify.edit_card, edit))
    # Bounded: two beats come within a second or two while the edit waits; before the fix the
    # edit never beat at all and this timed out.
    await asyncio.wait_for(two_beats.wait(), timeout=10)
    sender.answer.set()
    result = await asyncio.wait_for(running, timeout=10)
    assert result.sent and result.message_ids == [3]
