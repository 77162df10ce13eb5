"""A research that read nothing completes with a warning; when the heartbeat is the one that
tells it (the job's own push was missed), the warning comes with it."""

from __future__ import annotations

from core.domain.jobs.models import JobState
from tests.heartbeat.harness import Harness
from tests.support.jobs import start_without_card
from tests.support.visibility import wait_visible


async def test_the_heartbeat_tells_a_completion_with_its_warning(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    hb.emulator.set_unreachable(chat, status=403)  # the job's own push fails for good
    spec = hb.operator.planner.research_job("summarize notes.txt", chat_id=chat)
    await start_without_card(hb.operator, spec, "test")
    await hb.wait_job(spec.job_id, JobState.completed)
    result = await hb.client.get_workflow_handle(spec.job_id).result()  # closed, push given up
    assert result["state"] == "completed"
    # Visibility is eventually consistent: the heartbeat must be able to see it closed.
    await wait_visible(hb.client, f"WorkflowId = '{spec.job_id}' AND ExecutionStatus = 'Completed'")
    hb.emulator.set_reachable(chat)

    hb.clock.advance(minutes=2)  # past the push grace
    summary = await hb.run(target)
    assert summary.outcome == "posted", summary
    (told,) = [m.plain_text or "" for m in hb.sent_to(chat) if spec.job_id in (m.plain_text or "")]
    # The job's own result message, warning and all (not a state line).
    assert "completed with a warning" in told and "Nothing was read — notes.txt" in told
