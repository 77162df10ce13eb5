"""Duplicate alerts and the ack token's markup, end to end: the scripted LLM answers, the Bot API
emulator records what the chat was shown, the heartbeat log says why."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from core.domain.heartbeat.duplicates import DUPLICATE_WINDOW, fingerprint, normalise
from core.domain.heartbeat.target import HeartbeatTarget
from core.io.db import Database
from core.io.heartbeat.store import HeartbeatStore
from core.io.tables import HeartbeatDeliveryRow
from tests.heartbeat.harness import Harness
from tests.support.llm_server import ScriptedLLM, text, tool_calls
from workflows.heartbeat.workflow import _Run

PROMPT = "Check the disks; report problems only."
ALERT = "Disk /var is 91% full."
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def inline_target(hb: Harness, **overrides: Any) -> tuple[int, HeartbeatTarget]:
    chat = hb.new_chat()
    target = await hb.target(chat, prompt=PROMPT, workspace_file_path="", **overrides)
    return chat, target


def shown(hb: Harness, chat: int) -> list[str]:
    return [m.plain_text or "" for m in hb.sent_to(chat)]


def test_the_same_alert_ignores_whitespace_and_case_only() -> None:
    assert normalise("  Disk /var\u00a0is 91%\n FULL. ") == "disk /var is 91% full."
    assert fingerprint("Disk  /var is 91% full.") == fingerprint("disk /var is 91% FULL.")
    assert fingerprint("Disk /var is 91% full.") != fingerprint("Disk /var is 92% full.")
    assert fingerprint("Disk /var is 91% full.") != fingerprint("Disk /var is 91% full!")


async def test_the_same_alert_within_24_hours_is_posted_once(hb: Harness, llm: ScriptedLLM) -> None:
    chat, target = await inline_target(hb)
    llm.push(text(ALERT), text("HEARTBEAT_OK\n\n  disk /VAR is 91%   full.  "))
    first = await hb.run(target)
    assert first.outcome == "posted", first
    second = await hb.run(target)
    assert second.outcome == "duplicate", second
    assert "not posted again" in second.reason and "/heartbeat fire" in second.reason
    assert shown(hb, chat) == [f"🫀 Heartbeat\n{ALERT}"]
    latest, earlier = await hb.store.recent_runs(target, limit=2)
    assert (latest.outcome, latest.duplicates) == ("duplicate", 1)
    assert latest.result == "disk /VAR is 91% full." and latest.llm_calls == 1
    assert (earlier.outcome, earlier.duplicates) == ("posted", 0)

    # Something else in between does not make the first alert new again.
    llm.push(text("Backup is 3 hours late."), text(ALERT))
    assert (await hb.run(target)).outcome == "posted"
    assert (await hb.run(target)).outcome == "duplicate"
    assert len(shown(hb, chat)) == 2

    # Another target is another audience: it is told.
    other_chat, other = await inline_target(hb)
    llm.push(text(ALERT))
    assert (await hb.run(other)).outcome == "posted"
    assert shown(hb, other_chat) == [f"🫀 Heartbeat\n{ALERT}"]


async def test_a_person_asking_for_a_run_is_shown_it_again(hb: Harness, llm: ScriptedLLM) -> None:
    chat, target = await inline_target(hb)
    llm.push(text(ALERT), text(ALERT), text(ALERT))
    assert (await hb.run(target)).outcome == "posted"
    # The real command: it records the request and triggers the target's schedule.
    assert "fired" in (await hb.say(chat, "/heartbeat fire"))[0].text
    runs = await runs_of(hb, target, 2)
    assert runs[0].outcome == "posted" and "fired by hand" in runs[0].reason, runs[0].reason
    assert shown(hb, chat) == [f"🫀 Heartbeat\n{ALERT}"] * 2
    hb.clock.advance(minutes=10)  # past the cooldown the person's command started
    assert (await hb.run(target)).outcome == "duplicate"  # the schedule's next run
    assert len(shown(hb, chat)) == 2


async def runs_of(hb: Harness, target: HeartbeatTarget, count: int) -> list[Any]:
    """The target's runs, newest first, once there are `count` (the schedule runs on its own)."""
    for _ in range(200):
        runs = await hb.store.recent_runs(target)
        if len(runs) >= count:
            return runs
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{target.schedule_id}: fewer than {count} runs recorded")


async def test_after_24_hours_the_alert_is_posted_again(hb: Harness, llm: ScriptedLLM) -> None:
    chat, target = await inline_target(hb)
    llm.push(text(ALERT), text(ALERT), text(ALERT), text(ALERT))
    assert (await hb.run(target)).outcome == "posted"
    hb.clock.advance(hours=23, minutes=59)
    assert (await hb.run(target)).outcome == "duplicate"
    hb.clock.advance(minutes=2)  # 24 h and a minute after it was posted
    assert (await hb.run(target)).outcome == "posted"
    assert (await hb.run(target)).outcome == "duplicate"  # the new posting starts a new window
    assert shown(hb, chat) == [f"🫀 Heartbeat\n{ALERT}"] * 2


async def test_optional_posts_repeated_in_one_run_are_posted_once(
    hb: Harness, llm: ScriptedLLM
) -> None:
    chat, target = await inline_target(hb, dispatch_mode="optional")
    llm.push(
        tool_calls(
            ("post_heartbeat_to_channel", {"message": ALERT}),
            ("post_heartbeat_to_channel", {"message": ALERT.upper()}),
        ),
        text("Posted."),
    )
    assert (await hb.run(target)).outcome == "posted"
    assert shown(hb, chat) == [f"🫀 Heartbeat\n{ALERT}"]


async def test_the_token_in_markup_sends_nothing_and_leaves_nothing(
    hb: Harness, llm: ScriptedLLM
) -> None:
    chat, target = await inline_target(hb)
    quiet = [
        "<b>HEARTBEAT_OK</b>",
        "&nbsp;HEARTBEAT_OK&nbsp;",
        "HEARTBEAT_OK<br>",
        "<p><i>HEARTBEAT_OK</i></p>",
        "HEARTBEAT_OK ✅",
    ]
    llm.push(*(text(q) for q in quiet), text("<code>HEARTBEAT_OK</code> backup is late"))
    for _ in quiet:
        summary = await hb.run(target)
        assert summary.outcome == "suppressed", summary
    assert shown(hb, chat) == []
    assert (await hb.run(target)).outcome == "posted"
    assert shown(hb, chat) == ["🫀 Heartbeat\nbackup is late"]


async def test_the_store_remembers_what_a_target_was_shown(database: Database) -> None:
    """On SQLite and PostgreSQL: newest time per alert, per target, forgotten after the window."""
    store = HeartbeatStore(database)
    target, other = HeartbeatTarget(chat_id=5), HeartbeatTarget(chat_id=5, topic_id=9)
    for t in (target, other):
        await store.create(t, source="command", now=T0)
    await store.record_deliveries(target, [ALERT, "Backup late."], T0)
    await store.record_deliveries(target, ["disk /var is 91% FULL."], T0 + timedelta(hours=2))
    since = T0 + timedelta(hours=1) - DUPLICATE_WINDOW
    assert await store.delivered_since(target, [ALERT, "Backup late.", "New."], since) == [
        T0 + timedelta(hours=2),
        T0,
        None,
    ]
    assert await store.delivered_since(other, [ALERT], since) == [None]  # a topic is a target
    later = T0 + DUPLICATE_WINDOW + timedelta(hours=1)
    assert await store.delivered_since(target, ["Backup late."], later - DUPLICATE_WINDOW) == [None]
    await store.record_deliveries(target, ["Other."], later)  # prunes what left the window
    async with database.session() as session:
        rows = await session.scalars(select(HeartbeatDeliveryRow.excerpt))
        assert sorted(rows.all()) == ["Other.", "disk /var is 91% FULL."]
    await store.delete(target)
    assert await store.delivered_since(target, ["Other."], T0) == [None]


def test_a_run_that_also_posted_job_updates_stays_posted() -> None:
    started = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    run = _Run(target=HeartbeatTarget(chat_id=5), started_at=started, duplicates=1)
    assert run.outcome == "duplicate"
    run.posted = True  # a job update went out in the same run; the count keeps the duplicate
    assert run.outcome == "posted"
    assert _Run(target=run.target, started_at=started, suppressed=True).outcome == "suppressed"
