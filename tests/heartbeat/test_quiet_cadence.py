"""The slower cadence in quiet hours counts from the last run that executed, not from the last
run at all: every skipped tick is a run too, so counting from it would push the next executed
run ahead forever — in quiet hours the heartbeat would never run again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from core.io.tables import HeartbeatTargetRow
from tests.heartbeat.harness import Harness
from tests.heartbeat.test_heartbeat_gates import window_around_now
from tests.support.llm_server import ScriptedLLM, text


async def test_skipped_quiet_ticks_do_not_postpone_the_slow_cadence(
    hb: Harness, llm: ScriptedLLM
) -> None:
    chat = hb.new_chat()
    start, end = window_around_now("UTC")
    target = await hb.target(
        chat, prompt="p", workspace_file_path="", quiet_start=start, quiet_end=end
    )
    await hb.set(target, quiet_interval_minutes=60)
    llm.push(text("HEARTBEAT_OK"))
    first = await hb.run(target)
    assert first.outcome == "suppressed" and "slow cadence run" in first.reason, first
    skipped = await hb.run(target)  # a tick a minute later: too soon, skipped
    assert skipped.outcome == "skipped" and "one run per 60 min" in skipped.reason, skipped

    # An hour has passed since the executed run; the skipped tick was seconds ago.
    row = await hb.store.get(target)
    assert row is not None and row.last_executed_at is not None and row.last_run_at is not None
    assert row.last_run_at > row.last_executed_at
    async with hb.runtime.db.session() as session:
        await session.execute(
            update(HeartbeatTargetRow)
            .where(HeartbeatTargetRow.id == target.schedule_id)
            .values(last_executed_at=row.last_executed_at - timedelta(minutes=61))
        )
    llm.push(text("HEARTBEAT_OK"))
    due = await hb.run(target)
    assert due.outcome == "suppressed" and "slow cadence run" in due.reason, due
    assert len(llm.requests) == 2
