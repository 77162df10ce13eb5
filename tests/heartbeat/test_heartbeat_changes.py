"""Job changes: the heartbeat and each job's own push share one ledger, so a change is told
exactly once; stale and stuck jobs are flagged once; messages go to the target's chat only."""

from __future__ import annotations

import logging
import uuid

import pytest
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.domain.jobs.models import JobState, NotifyPolicy
from core.domain.temporal_names import SA_JOB_STATUS, SA_REPORT_CHAT_ID
from core.io.ledger import ReportLedgerStore
from tests.heartbeat.harness import WATCHING, Harness
from tests.support.jobs import fast_retries, start_without_card
from tests.support.visibility import wait_visible


def about(hb: Harness, chat: int, job_id: str, word: str) -> list[str]:
    return [
        m.plain_text or ""
        for m in hb.sent_to(chat)
        if job_id in (m.plain_text or "") and word in (m.plain_text or "")
    ]


async def test_a_change_told_by_the_push_is_not_told_again(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    spec = await hb.start_job(chat, "echo pushed")
    await hb.wait_job(spec.job_id, JobState.completed)
    await hb.emulator.wait_for(lambda m: m.chat_id == chat and spec.job_id in (m.plain_text or ""))
    hb.clock.advance(minutes=5)  # well past the push grace
    summary = await hb.run(target)
    assert summary.outcome == "silent", summary
    assert len(about(hb, chat, spec.job_id, "completed")) == 1


async def test_a_change_the_push_missed_is_told_exactly_once(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    # The job's own push fails for good (Telegram says the chat is gone) — as if it crashed.
    hb.emulator.set_unreachable(chat, status=403)
    spec = await hb.start_job(chat, "printf missed-%s result")
    await hb.wait_job(spec.job_id, JobState.completed)
    result = await hb.client.get_workflow_handle(spec.job_id).result()
    assert result["state"] == "completed"
    hb.emulator.set_reachable(chat)
    assert about(hb, chat, spec.job_id, "completed") == []

    # Within the push grace the heartbeat leaves it to the job.
    early = await hb.run(target)
    assert early.outcome == "silent" and "left to the job's own push" in early.reason
    hb.clock.advance(minutes=2)
    first = await hb.run(target)
    assert first.outcome == "posted" and "1 job update" in first.reason, first
    told = about(hb, chat, spec.job_id, "completed")
    # The job's own result message, with the output the person asked for — not a state line.
    assert len(told) == 1 and "missed-result" in told[0], told
    assert told[0].startswith(f"✅ {spec.job_id} · completed"), told
    second = await hb.run(target)
    assert second.outcome == "silent", second
    assert len(about(hb, chat, spec.job_id, "completed")) == 1
    ledger = await hb.runtime.ledger.last_reported([spec.job_id])
    assert ledger[spec.job_id] == "completed"


async def test_a_silent_job_is_not_pushed_by_the_heartbeat_either(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    spec = await hb.start_job(chat, "echo quiet", notify=NotifyPolicy.silent)
    await hb.wait_job(spec.job_id, JobState.completed)
    hb.clock.advance(minutes=5)
    summary = await hb.run(target)
    assert summary.outcome == "silent", summary
    assert hb.sent_to(chat) == []


async def test_a_stale_job_is_flagged_once(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, stale_after_minutes=30)
    spec = await hb.start_job(chat, "sleep 30")
    await hb.wait_job(spec.job_id, JobState.running)
    try:
        fresh = await hb.run(target)
        assert fresh.outcome == "silent", fresh  # it is making progress right now
        hb.clock.advance(minutes=31)
        flagged = await hb.run(target)
        assert flagged.outcome == "posted", flagged
        (message,) = about(hb, chat, spec.job_id, "stuck")
        assert "no progress for 3" in message and "/cancel" in message
        again = await hb.run(target)
        assert again.outcome == "silent", again
    finally:
        await hb.client.get_workflow_handle(spec.job_id).cancel()


async def test_a_decision_left_waiting_is_reminded_once(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, stale_after_minutes=30)
    spec = fast_retries(hb.operator.planner.exec_job("false", chat_id=chat), max_attempts=1)
    await start_without_card(hb.operator, spec, "test")
    try:
        await hb.wait_job(spec.job_id, JobState.needs_attention)
        await hb.emulator.wait_for(
            lambda m: m.chat_id == chat and "needs attention" in (m.plain_text or "")
        )
        hb.clock.advance(minutes=5)
        assert (await hb.run(target)).outcome == "silent"  # the push told it already
        hb.clock.advance(minutes=30)
        reminded = await hb.run(target)
        assert reminded.outcome == "posted", reminded
        assert len(about(hb, chat, spec.job_id, "still needs a decision")) == 1
        assert (await hb.run(target)).outcome == "silent"
    finally:
        await hb.client.get_workflow_handle(spec.job_id).cancel()


async def test_messages_go_only_to_the_targets_own_chat(hb: Harness) -> None:
    """Two chats, each with a change their push missed: each heartbeat tells its own chat only."""
    chats = [hb.new_chat(), hb.new_chat()]
    targets = [await hb.target(chat) for chat in chats]
    jobs = []
    for chat in chats:
        hb.emulator.set_unreachable(chat, status=403)
        jobs.append(await hb.start_job(chat, f"echo for-{chat}"))
    for spec in jobs:
        await hb.wait_job(spec.job_id, JobState.completed)
        await hb.client.get_workflow_handle(spec.job_id).result()
    for chat in chats:
        hb.emulator.set_reachable(chat)
    hb.clock.advance(minutes=2)
    for index, target in enumerate(targets):
        before = len(hb.emulator.sent)
        assert (await hb.run(target)).outcome == "posted"
        # (Other tests' jobs may push meanwhile; the heartbeat's own messages are what count.)
        told = [
            m
            for m in hb.emulator.sent[before:]
            if any(spec.job_id in (m.plain_text or "") for spec in jobs)
        ]
        assert told and {m.chat_id for m in told} == {chats[index]}
        assert all(jobs[1 - index].job_id not in (m.plain_text or "") for m in told)


async def test_a_topic_target_reports_its_topic_and_the_group_the_rest(hb: Harness) -> None:
    group = hb.new_chat(group=True)
    topic_target = await hb.target(group, topic_id=42)
    group_target = await hb.target(group)
    await hb.admin.toggle(topic_target, True, None)  # enabled topic targets own their topic
    await hb.admin.toggle(topic_target, False, None)
    hb.emulator.set_unreachable(group, status=403)
    in_topic = await hb.start_job(group, "echo topic", topic_id=42)
    outside = await hb.start_job(group, "echo general")
    for spec in (in_topic, outside):
        await hb.wait_job(spec.job_id, JobState.completed)
        await hb.client.get_workflow_handle(spec.job_id).result()
    hb.emulator.set_reachable(group)
    hb.clock.advance(minutes=2)
    await hb.run(topic_target)
    topic_messages = hb.emulator.messages_to(group, message_thread_id=42)
    assert any(in_topic.job_id in (m.plain_text or "") for m in topic_messages)
    assert all(outside.job_id not in (m.plain_text or "") for m in topic_messages)
    await hb.run(group_target)
    general = [m for m in hb.sent_to(group) if m.message_thread_id is None]
    assert any(outside.job_id in (m.plain_text or "") for m in general)


async def test_a_job_whose_notify_policy_cannot_be_read_is_never_pushed(
    hb: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Jobs started by another version (spec unreadable here; one with a policy in its memo this
    version does not know) end: the tick still works, tells nothing about them (they may have
    asked for silence), and the log says why, with each job's id."""
    chat = hb.new_chat()
    target = await hb.target(chat)
    job_ids = [f"job-old{uuid.uuid4().hex[:6]}", f"job-odd{uuid.uuid4().hex[:6]}"]
    for job_id, memo in zip(job_ids, [None, {"notify": "mute"}], strict=True):
        await hb.client.start_workflow(
            "JobWorkflow",
            {"job_id": job_id, "from": "an older version"},
            id=job_id,
            task_queue="nobody-polls-this",
            memo=memo,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(SA_JOB_STATUS, "completed"),
                    SearchAttributePair(SA_REPORT_CHAT_ID, chat),
                ]
            ),
        )
        await hb.client.get_workflow_handle(job_id).terminate("finished elsewhere")
        await wait_visible(hb.client, f"WorkflowId = '{job_id}' AND ExecutionStatus = 'Terminated'")
    hb.clock.advance(minutes=2)
    with caplog.at_level(logging.INFO, logger="activities.heartbeat.jobs"):
        summary = await hb.run(target)
    assert summary.outcome == "silent", summary
    assert hb.sent_to(chat) == []
    unreadable = [
        getattr(r, "job_id", None)
        for r in caplog.records
        if "notify policy cannot be read" in r.getMessage()
    ]
    assert sorted(unreadable) == sorted(job_ids)
    assert any("'mute'" in r.getMessage() for r in caplog.records)


async def test_a_failing_step_is_recorded_and_the_workflow_completes(
    hb: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, **WATCHING)  # past the idle check, to the ledger

    async def broken(self: object, job_ids: list[str]) -> dict[str, str | None]:
        raise RuntimeError("the ledger is unavailable")

    monkeypatch.setattr(ReportLedgerStore, "last_reported", broken)
    summary = await hb.run(target)  # a step that fails for good
    assert summary.outcome == "failed" and "the ledger is unavailable" in summary.reason
    monkeypatch.undo()
    (run,) = await hb.store.recent_runs(target)
    assert run.outcome == "failed"
    row = await hb.store.get(target)
    assert row is not None and row.consecutive_failures == 1 and row.changes_checked_until is None
    assert (await hb.run(target)).outcome == "posted"  # once: no LLM is configured
    row = await hb.store.get(target)
    assert row is not None and row.consecutive_failures == 0
