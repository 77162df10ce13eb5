"""The fidelity judge on hand-made records: each rule catches what it names and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from bench._fidelity.judge import (
    Delivery,
    JobTruth,
    QuietWindow,
    RateWait,
    judge,
    state_reports,
)
from core.jobs.models import JobState, NotifyPolicy

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
CHAT, GROUP = 1001, -1001003


def job(
    job_id: str,
    final: JobState | None = JobState.completed,
    *,
    chat: int = CHAT,
    topic: int | None = None,
    notify: NotifyPolicy = NotifyPolicy.state_changes,
    attention: bool = False,
) -> JobTruth:
    states = [(JobState.running, T0)]
    if attention:
        states.append((JobState.needs_attention, T0 + 1))
    if final is not None:
        states.append((final, T0 + 2))
    return JobTruth(job_id, chat, topic, notify, tuple(states), final, T0 + 2 if final else None)


def push(job_id: str, state: str, at: float = T0 + 3, chat: int = CHAT, **kw: object) -> Delivery:
    icon = {"completed": "✅", "failed": "❌", "needs attention": "⚠️", "started": "🆕"}[state]
    return Delivery(chat, kw.pop("thread", None), f"{icon} {job_id} · {state}\ngoal", at, **kw)  # type: ignore[arg-type]


def test_reports_are_read_from_job_headers_and_digest_lines() -> None:
    assert state_reports("✅ job-abc1 · completed\n<i>goal</i>") == [
        ("job-abc1", JobState.completed)
    ]
    assert state_reports("🆕 job-abc1 · started\nplan") == [("job-abc1", JobState.running)]
    digest = "🫀 Heartbeat · 2 job updates\n❌ job-a1b2 failed\n   goal\n⚠️ job-c3d4 needs attention"
    assert state_reports(digest) == [
        ("job-a1b2", JobState.failed),
        ("job-c3d4", JobState.needs_attention),
    ]
    assert state_reports("🔁 job-abc1: retrying step 1.") == []
    scheduled = "✅ job-sch1-2026-11-30T12:00:30Z · completed"
    assert state_reports(scheduled) == [("job-sch1-2026-11-30T12:00:30Z", JobState.completed)]


def test_a_clean_run_passes() -> None:
    truths = [job("job-ok01"), job("job-na01", JobState.failed, attention=True)]
    sent = [
        push("job-ok01", "started", T0 + 0.1),
        push("job-ok01", "completed", T0 + 2.5),
        push("job-na01", "needs attention", T0 + 1.2),
        push("job-na01", "failed", T0 + 2.3),
    ]
    verdict = judge(truths, sent, kills=3)
    assert verdict.ok, verdict
    assert (verdict.jobs, verdict.expected, verdict.lost, verdict.kills) == (2, 3, 0, 3)
    assert verdict.line().startswith("fidelity: jobs 2, kills 3, lost 0, duplicated 0")


def test_lost_and_the_heartbeat_rescue() -> None:
    truths = [job("job-lost"), job("job-resc", JobState.failed), job("job-natt", attention=True)]
    sent = [
        Delivery(CHAT, None, "🫀 Heartbeat · 1 job update\n❌ job-resc failed\n   goal", T0 + 70),
        push("job-natt", "completed"),
    ]
    verdict = judge(truths, sent)
    assert verdict.lost == 2 and not verdict.ok
    assert verdict.lost_jobs == {"job-lost", "job-natt"}
    assert verdict.rescued_by_heartbeat == 1


def test_duplicates_are_told_apart_by_a_hidden_5xx() -> None:
    truths = [job("job-dup1"), job("job-dup2")]
    sent = [
        push("job-dup1", "completed", T0 + 3, hidden_status=502),
        push("job-dup1", "completed", T0 + 4),
        push("job-dup2", "completed", T0 + 3),
        push("job-dup2", "completed", T0 + 4),
    ]
    verdict = judge(truths, sent)
    assert (verdict.duplicated, verdict.hidden) == (2, 1)
    assert not verdict.ok
    only_hidden = judge(truths[:1], sent[:2])
    assert (only_hidden.duplicated, only_hidden.hidden) == (1, 1) and only_hidden.ok


def test_misrouted_silent_and_unwanted() -> None:
    truths = [
        job("job-topc", chat=GROUP, topic=11),
        job("job-shhh", notify=NotifyPolicy.silent),
        job("job-done", notify=NotifyPolicy.done_only),
    ]
    sent = [
        push("job-topc", "completed", chat=GROUP, thread=12),  # the wrong topic
        push("job-shhh", "completed"),
        push("job-done", "started"),
        push("job-done", "completed"),
    ]
    verdict = judge(truths, sent)
    assert verdict.misrouted == 1 and verdict.lost == 1  # the right topic never heard it
    assert verdict.silent == 1
    assert verdict.unchanged == 1  # a start card done_only did not ask for
    assert not verdict.ok


def test_quiet_hours_count_only_heartbeats_inside_the_window_after_it_was_set() -> None:
    window = QuietWindow(CHAT, None, 11 * 60 + 59, 12 * 60 + 30, since=T0 + 10)
    hb = "🫀 Heartbeat · 1 job update\n✅ job-qqq1 completed"
    truths = [job("job-qqq1")]
    sent = [
        Delivery(CHAT, None, hb, T0 + 5),  # before the window was set
        Delivery(CHAT, None, hb.replace("job-qqq1", "job-qqq1"), T0 + 60),  # inside
        Delivery(CHAT, None, "🫀 Heartbeat\nlate", T0 + 40 * 60),  # after the window
        push("job-qqq1", "completed", T0 + 61),  # job results are not held back
    ]
    verdict = judge(truths, sent, quiet=[window])
    assert verdict.quiet == 1
    assert window.covers(T0 + 60) and not window.covers(T0 + 40 * 60)
    overnight = QuietWindow(CHAT, None, 23 * 60, 7 * 60, since=0)
    assert overnight.covers(datetime(2026, 11, 30, 2, 0, tzinfo=UTC).timestamp())


def test_leaks_and_repeated_alerts() -> None:
    sent = [
        Delivery(CHAT, None, "🫀 Heartbeat\n<b></b>", T0),
        Delivery(CHAT, None, "🫀 Heartbeat\n&nbsp;&nbsp;", T0 + 60),
        Delivery(CHAT, None, "🫀 Heartbeat\nDisk at 91%", T0 + 120),
        Delivery(CHAT, None, "🫀 Heartbeat\nDisk  at 91%", T0 + 180),
        Delivery(CHAT, None, "🫀 Heartbeat\nHEARTBEAT_OK disk fine", T0 + 240),
    ]
    verdict = judge([], sent)
    assert verdict.leaks == 3
    assert verdict.unchanged == 1


def test_latency_leaves_out_retry_after_waits() -> None:
    truths = [job("job-lat1")]  # final at T0 + 2
    sent = [push("job-lat1", "completed", T0 + 5.5)]
    waits = [RateWait(CHAT, T0 + 2.5, 1.0), RateWait(CHAT, T0 + 3.0, 1.0), RateWait(1, T0, 9)]
    verdict = judge(truths, sent, waits=waits)
    # 3.5 s in all, of which 1.5 s (2.5 → 4.0, overlapping waits counted once) was retry_after.
    assert verdict.latencies_ms == [2000.0]
