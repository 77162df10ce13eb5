"""A job started with the silent notify policy asked for no messages: the heartbeat does not
flag it as stuck either, however long it makes no progress (the same job with the default
policy is flagged: tests/heartbeat/test_heartbeat_changes.py)."""

from __future__ import annotations

from core.domain.jobs.models import JobState, NotifyPolicy
from tests.heartbeat.harness import Harness


async def test_a_silent_job_without_progress_is_not_flagged(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, stale_after_minutes=30)
    silent = await hb.start_job(chat, "sleep 30", notify=NotifyPolicy.silent)
    loud = await hb.start_job(chat, "sleep 30")
    await hb.wait_job(silent.job_id, JobState.running)
    await hb.wait_job(loud.job_id, JobState.running)
    try:
        hb.clock.advance(minutes=31)
        flagged = await hb.run(target)
        # The loud job is the positive marker: the run did look at stale jobs.
        assert flagged.outcome == "posted", flagged
        stuck = [
            m.plain_text or "" for m in hb.sent_to(chat) if "no progress" in (m.plain_text or "")
        ]
        assert len(stuck) == 1 and loud.job_id in stuck[0], stuck
        assert silent.job_id not in stuck[0], stuck
        assert not [m for m in hb.sent_to(chat) if silent.job_id in (m.plain_text or "")]
    finally:
        for spec in (silent, loud):
            await hb.client.get_workflow_handle(spec.job_id).cancel()
