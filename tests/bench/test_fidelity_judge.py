"""The fidelity judge on hand-made records: each rule catches what it names and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from bench._fidelity.judge import (
    Confirm,
    Delivery,
    JobTruth,
    Kill,
    QuietWindow,
    RateWait,
    Retry,
    SendAttempt,
    judge,
    state_reports,
)
from core.domain.jobs.models import JobState, NotifyPolicy

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
    kills = [Kill(T0 + 1.5, "bot", 4242), Kill(T0 + 1.7, "operator"), Kill(T0 + 9, "research")]
    verdict = judge(truths, sent, kills=kills)
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


def _needs_attention_told_twice(job_id: str) -> tuple[list[JobTruth], list[Delivery]]:
    """A job told `needs attention` at T0 + 3 and again at T0 + 6 (one episode)."""
    truths = [job(job_id, JobState.failed, attention=True)]
    sent = [
        push(job_id, "needs attention", T0 + 3),
        push(job_id, "needs attention", T0 + 6),
        push(job_id, "failed", T0 + 9),
    ]
    return truths, sent


def test_a_repeat_after_a_kill_of_the_sender_between_send_and_confirm_is_designed() -> None:
    truths, sent = _needs_attention_told_twice("job-kil1")
    kill = Kill(T0 + 3.4, "operator", 4242, held=("job-kil1 needs_attention",), aimed=True)
    confirms = [Confirm("job-kil1", "needs_attention", T0 + 6.1), Confirm("job-kil1", "failed", 9)]
    verdict = judge(truths, sent, kills=[kill], confirms=confirms)  # the retry confirms
    assert (verdict.duplicated, verdict.by_kill, verdict.by_5xx) == (1, 1, 0)
    assert verdict.ok, verdict
    [item] = verdict.designed_items
    assert "kill of operator (pid 4242)" in item and "holding the claim job-kil1" in item
    assert "duplicated 1 (designed: kill 1, 5xx 0)" in verdict.line()


def test_a_repeat_after_a_5xx_that_hid_its_delivery_is_designed() -> None:
    truths, sent = _needs_attention_told_twice("job-5xx1")
    attempts = [
        SendAttempt(T0 + 2.0, CHAT, "sendMessage", 502, applied=True, text="⚠️ job-other"),
        SendAttempt(T0 + 3.0, CHAT, "sendMessage", 502, applied=True, text="⚠️ job-5xx1 · n"),
        SendAttempt(T0 + 6.0, CHAT, "sendMessage", 200, text="⚠️ job-5xx1 · needs attention"),
    ]
    confirms = [Confirm("job-5xx1", "needs_attention", T0 + 6.1)]
    verdict = judge(truths, sent, attempts=attempts, confirms=confirms)
    assert (verdict.duplicated, verdict.by_kill, verdict.by_5xx) == (1, 0, 1)
    assert verdict.ok, verdict
    assert verdict.designed_items == [
        "job-5xx1 needs_attention ×2 in (1001, None): "
        "502 after delivery on sendMessage at 12:00:03.000"
    ]


def test_a_repeat_with_no_kill_or_5xx_between_send_and_confirm_fails_the_run() -> None:
    truths, sent = _needs_attention_told_twice("job-bug1")
    confirms = [Confirm("job-bug1", "needs_attention", T0 + 3.2)]
    noise = [
        Kill(T0 + 1.0, "operator"),  # before the first send
        Kill(T0 + 4.0, "operator"),  # after the confirm: the sender had no cause to repeat
        Kill(T0 + 3.1, "research"),  # a role that sends no job reports
        Kill(T0 + 3.1, "bot"),  # the bot sends start cards only
    ]
    hidden_elsewhere = [
        SendAttempt(T0 + 3.1, CHAT, "sendMessage", 502, applied=True, text="job-else · x"),
        SendAttempt(T0 + 3.1, CHAT, "sendMessage", 502, text="job-bug1 · not delivered"),
        SendAttempt(T0 + 5.0, CHAT, "sendMessage", 502, applied=True, text="job-bug1 late"),
    ]
    verdict = judge(truths, sent, kills=noise, attempts=hidden_elsewhere, confirms=confirms)
    assert (verdict.duplicated, verdict.designed) == (1, 0)
    assert not verdict.ok
    assert verdict.duplicate_items == [
        "job-bug1 needs_attention ×2 in (1001, None): sent again 2.8 s after the ledger's confirm"
    ]
    unconfirmed = judge(truths, sent, kills=noise[2:], attempts=hidden_elsewhere[:2])
    assert (unconfirmed.duplicated, unconfirmed.designed, unconfirmed.ok) == (1, 0, False)
    assert unconfirmed.duplicate_items[0].endswith(
        "no kill of a sender, no hidden 5xx before the confirm"
    )


def test_a_cause_before_the_confirm_does_not_excuse_a_repeat_after_it() -> None:
    truths, sent = _needs_attention_told_twice("job-late")
    confirms = [Confirm("job-late", "needs_attention", T0 + 3.5)]  # confirmed: told once
    kill = Kill(T0 + 3.2, "operator")  # in the window, but the confirm came after it
    hidden = [SendAttempt(T0 + 3.0, CHAT, "sendMessage", 502, applied=True, text="job-late")]
    verdict = judge(truths, sent, kills=[kill], attempts=hidden, confirms=confirms)
    assert (verdict.duplicated, verdict.designed, verdict.ok) == (1, 0, False)


def test_a_second_episode_is_news_not_a_repeat() -> None:
    states = (
        (JobState.running, T0),
        (JobState.needs_attention, T0 + 1),
        (JobState.running, T0 + 2),
        (JobState.needs_attention, T0 + 3),
        (JobState.failed, T0 + 4),
    )
    truth = JobTruth("job-epi2", CHAT, None, NotifyPolicy.state_changes, states,
                     JobState.failed, T0 + 4)  # fmt: skip
    sent = [
        push("job-epi2", "started", T0 + 0.1),
        push("job-epi2", "needs attention", T0 + 1.1),
        push("job-epi2", "needs attention", T0 + 3.1),
        push("job-epi2", "failed", T0 + 4.1),
    ]
    verdict = judge([truth], sent)
    assert verdict.duplicated == 0 and verdict.ok, verdict


def test_retries_after_a_timeout_are_spurious_unless_a_worker_died() -> None:
    retries = (
        Retry("job-ret1", "notify.job_update", T0 + 1, T0 + 12, "heartbeat"),  # operator killed
        Retry("job-ret1", "notify.job_update", T0 + 20, T0 + 31, "heartbeat"),  # server restart
        Retry("job-ret1", "notify.job_update", T0 + 40, T0 + 51, "heartbeat"),  # spurious
    )
    truth = job("job-ret1")
    truth = JobTruth(**{**truth.__dict__, "retries": retries})
    kills = [Kill(T0 + 2, "operator"), Kill(T0 + 45, "research")]
    verdict = judge([truth], [push("job-ret1", "completed")], kills=kills,
                    server_restarts=[T0 + 25])  # fmt: skip
    assert (verdict.retries_after_timeout, verdict.spurious_retries) == (3, 1)
    assert verdict.ok  # reported, not a hard rule
    assert "spurious-retries 1" in verdict.line()


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


def test_a_job_meant_to_succeed_that_did_not_breaks_the_rules() -> None:
    command = "python -I -S -c \"exec(open('../fidtask.py').read())\""
    truths = [
        JobTruth(**{**job("job-ok1", JobState.failed).__dict__, "goal": f"{command} ok 1"}),
        JobTruth(**{**job("job-ok2").__dict__, "goal": f"{command} live 2"}),
        JobTruth(**{**job("job-fw3", JobState.failed).__dict__, "goal": f"{command} fail_wait 3"}),
    ]
    sent = [push("job-ok1", "failed"), push("job-ok2", "completed"), push("job-fw3", "failed")]
    verdict = judge(truths, sent)
    assert verdict.not_succeeded == 1
    assert verdict.not_succeeded_items == ["job-ok1 (ok) ended failed"]
    assert not verdict.ok


def test_a_kill_of_either_operator_process_is_a_kill_of_a_sender() -> None:
    """The harness runs two operator workers (operator-1, operator-2): a repeat caused by a kill
    of either is designed; a kill of a numbered role of another kind is not."""
    for role, designed in (("operator-2", True), ("operator-1", True), ("execution-2", False)):
        truths, sent = _needs_attention_told_twice("job-kil2")
        confirms = [Confirm("job-kil2", "needs_attention", T0 + 6.1)]
        verdict = judge(truths, sent, kills=[Kill(T0 + 3.4, role, 7)], confirms=confirms)
        assert verdict.ok is designed, (role, verdict)


def test_results_in_flight_across_a_server_restart_are_set_apart_in_the_p99() -> None:
    """A result whose final state came before the dev server was up again and that was told
    after it stopped waited for Temporal itself: it counts in the p99 of all, not in the p99
    beside the restart. A result told before the stop, or final after the server was up, is
    every other result."""
    truths = [job(f"job-lat{n:02d}") for n in range(4)]
    sent = [push("job-lat00", "completed", T0 + 2.5)]  # told before the stop: 500 ms
    sent.append(push("job-lat01", "completed", T0 + 20))  # in flight across it: 18 s
    sent.append(push("job-lat02", "completed", T0 + 2.4))  # 400 ms
    sent.append(push("job-lat03", "completed", T0 + 2.2))  # 200 ms
    verdict = judge(truths, sent, server_restarts=[T0 + 2.6, T0 + 15])
    assert verdict.outage_ms == [18000.0]
    assert verdict.p99 == 18000.0
    assert verdict.p99_beside_outage == 500.0
    assert "(beside the server restart 500 ms; 1 in flight across it)" in verdict.line()


def test_a_job_whose_step_lost_its_workers_to_kills_failed_as_designed() -> None:
    """Retries are bounded: a job meant to succeed whose step ran out of attempts on a timeout
    while kills took that step's workers failed as designed, listed with the kills. The same
    loss with no kill of that step's role (a kill of another role only) breaks the rule."""
    command = "python -I -S -c \"exec(open('../fidtask.py').read())\""
    lost = (("execution.run", T0 + 0.5, T0 + 40.0),)
    base = job("job-lst1", JobState.failed).__dict__
    truths = [JobTruth(**{**base, "goal": f"{command} live 1", "lost_steps": lost})]
    sent = [push("job-lst1", "failed")]
    killed = [Kill(T0 + 5, "execution-1", 11), Kill(T0 + 20, "execution-2", 12)]
    verdict = judge(truths, sent, kills=killed)
    assert verdict.not_succeeded == 0 and verdict.ok, verdict
    [item] = verdict.lost_to_kills_items
    assert item.startswith("job-lst1 (live) ended failed: execution.run ran out of attempts")
    assert "12:00:05" in item and "12:00:20" in item
    elsewhere = judge(truths, sent, kills=[Kill(T0 + 5, "research", 13)])
    assert elsewhere.not_succeeded == 1 and not elsewhere.ok
