"""Card edits in the fidelity judge, on hand-made call records: "message is not modified" by
cause, a group's minute against Telegram's 20, and results that came right after an edit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench._fidelity.edits import GROUP_PER_MINUTE, judge_edits
from bench._fidelity.judge import Delivery, JobTruth, Kill, SendAttempt, judge
from bench._fidelity.report import RunFacts, markdown
from core.domain.jobs.models import JobState, NotifyPolicy

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
CHAT, GROUP = 1001, -1001003
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
LIVE = "🆕 job-liv1 · started\nplan: x\n⏱ running for 4s\n<pre>tick</pre>\nStatus: /job job-liv1"


def edit(
    at: float,
    chat: int = CHAT,
    message: int = 7,
    text: str = "✅ job-x · completed",
    status: int = 200,
    **kw: object,
) -> SendAttempt:
    return SendAttempt(at, chat, "editMessageText", status, text=text, message_id=message, **kw)  # type: ignore[arg-type]


def send(at: float, chat: int = GROUP, text: str = "🫀 Heartbeat\nok") -> SendAttempt:
    return SendAttempt(at, chat, "sendMessage", 200, text=text)


def refused(at: float, **kw: object) -> SendAttempt:
    return edit(at, status=400, description=NOT_MODIFIED, **kw)  # type: ignore[arg-type]


def finished(job_id: str, chat: int, final_at: float) -> JobTruth:
    states = ((JobState.running, final_at - 5), (JobState.completed, final_at))
    return JobTruth(job_id, chat, None, NotifyPolicy.state_changes, states,
                    JobState.completed, final_at)  # fmt: skip


def told(job_id: str, chat: int, at: float, message: int) -> Delivery:
    return Delivery(chat, None, f"✅ {job_id} · completed\ngoal", at, message_id=message)


def test_a_not_modified_edit_with_no_cause_fails_the_run() -> None:
    attempts = [edit(T0), refused(T0 + 2)]  # the same edit again, though the first one landed
    verdict = judge([], [], attempts=attempts)
    assert (verdict.edits.not_modified, verdict.edits.undesigned_not_modified) == (1, 1)
    assert not verdict.edits.ok and not verdict.ok
    assert verdict.edits.not_modified_items == [
        "chat 1001 message 7 at 12:00:02.000: no hidden 5xx or kill of an editor since the "
        "same edit took effect at 12:00:00.000"
    ]
    unknown = judge([], [], attempts=[refused(T0 + 2)]).edits.not_modified_items
    assert unknown == [
        "chat 1001 message 7 at 12:00:02.000: no identical edit of it had taken effect before"
    ]
    assert "not-modified 1 (designed 0)" in verdict.line()
    assert judge([], [], attempts=attempts[:1]).ok  # the edit alone breaks no rule


def test_a_not_modified_edit_after_a_hidden_5xx_or_a_kill_of_its_sender_is_designed() -> None:
    hidden = [edit(T0, status=502, applied=True), refused(T0 + 1.5)]
    verdict = judge([], [], attempts=hidden)
    assert (verdict.edits.not_modified, verdict.edits.not_modified_designed) == (1, 1)
    assert verdict.ok, verdict.edits
    assert verdict.edits.designed_items == [
        "chat 1001 message 7 at 12:00:01.500: 502 after the same edit took effect at 12:00:00.000"
    ]
    killed = [edit(T0), refused(T0 + 3)]
    assert judge([], [], attempts=killed, kills=[Kill(T0 + 1, "operator", 42)]).ok
    # A kill of a role that edits nothing, or an earlier edit that never landed, is no cause.
    assert not judge([], [], attempts=killed, kills=[Kill(T0 + 1, "research")]).ok
    never = [edit(T0, status=429), edit(T0 + 1, status=502), refused(T0 + 2)]
    assert not judge([], [], attempts=never, kills=[Kill(T0 + 1.5, "operator")]).ok


def test_a_live_edit_into_a_full_group_minute_fails_the_run() -> None:
    full = [send(T0 + i) for i in range(GROUP_PER_MINUTE)]  # 20 messages in 20 s
    late = edit(T0 + 30, chat=GROUP, text=LIVE)  # the 21st in the minute, a live refresh
    verdict = judge([], [], attempts=[*full, late])
    edits = verdict.edits
    assert edits.live_over_budget == 1 and not verdict.ok
    assert edits.worst_group is not None and edits.worst_group.worst == GROUP_PER_MINUTE + 1
    assert edits.over_budget_items == [
        "live refresh of message 7 in -1001003 at 12:00:30.000 after 20 messages and edits "
        "in its last 60 s"
    ]
    assert "live-edits-over-budget 1" in verdict.line()
    # Once the minute has room again the refresh is fine; so is an edit of another kind sent
    # into a full minute (reported only: results and state edits are never held back), and so
    # is a live refresh in a private chat.
    assert judge([], [], attempts=[*full, edit(T0 + 60.5, chat=GROUP, text=LIVE)]).ok
    other = judge([], [], attempts=[*full, edit(T0 + 30, chat=GROUP)])
    assert other.ok and other.edits.edits_over_budget == 1
    assert other.edits.worst_group is not None and other.edits.worst_group.worst == 21
    private = [send(T0 + i, chat=CHAT) for i in range(25)] + [edit(T0 + 30, text=LIVE)]
    assert judge([], [], attempts=private).edits.groups == {}


def test_calls_that_never_landed_do_not_fill_a_group_minute() -> None:
    refused_calls = [
        SendAttempt(T0 + i, GROUP, "sendMessage", 429 if i % 2 else 502) for i in range(30)
    ]
    verdict = judge([], [], attempts=[*refused_calls, edit(T0 + 31, chat=GROUP, text=LIVE)])
    assert verdict.ok and verdict.edits.worst_group is not None
    assert verdict.edits.worst_group.worst == 1
    assert verdict.edits.chats[GROUP].live == 1


def test_the_worst_result_right_after_an_edit_is_reported(tmp_path: Path) -> None:
    truths = [
        finished("job-fst1", CHAT, T0),  # told 0.2 s after: no edit before it
        finished("job-slw1", CHAT, T0 + 10),  # told 1.8 s after, 0.4 s after a live refresh
        finished("job-own1", GROUP, T0 + 20),  # its own card edited into the result: not counted
        finished("job-mid1", GROUP, T0 + 30),  # 0.6 s after, an edit 0.9 s before it
    ]
    sent = [
        told("job-fst1", CHAT, T0 + 0.2, 1),
        told("job-slw1", CHAT, T0 + 11.8, 2),
        told("job-own1", GROUP, T0 + 20.5, 3),
        told("job-mid1", GROUP, T0 + 30.6, 4),
    ]
    attempts = [
        edit(T0 + 11.4, text=LIVE, message=9),
        edit(T0 + 20.4, chat=GROUP, message=3),
        edit(T0 + 29.7, chat=GROUP, message=8),
        edit(T0 + 31.0, chat=GROUP, message=8),  # after the result: it could not delay it
    ]
    verdict = judge(truths, sent, attempts=attempts)
    edits = verdict.edits
    assert verdict.ok
    assert (edits.results, edits.results_after_edit, edits.results_after_live_edit) == (4, 2, 1)
    assert edits.worst_after_edit is not None and edits.worst_after_edit.job_id == "job-slw1"
    assert round(edits.worst_after_edit_ms) == 1800
    assert edits.p50_ms == verdict.p50 and round(edits.p50_ms) == 550
    assert edits.line().endswith("results after an edit 2 (worst 1800 ms; p50 of all 550 ms)")

    facts = RunFacts("cmd", "SQLite", ["hbo bot"], ["1001"], T0, T0 + 40, T0 + 41, T0 + 42,
                     4, 0, 0, 0, 0, 8, 0)  # fmt: skip
    page = tmp_path / "report.md"
    markdown(page, tmp_path / "timeline.png", verdict, facts, [], [])
    text = page.read_text(encoding="utf-8")
    assert "| card edits that took effect (of them live card refreshes) | 4 (1) | |" in text
    assert "| of them with no cause on record | 0 | must be 0 |" in text
    assert (
        "| results with an edit in their chat in the 1 s before (a live refresh) | 2 (1) of 4 |"
        in text
    )
    assert (
        "| worst latency of a result right after an edit | 1800 ms (job-slw1) vs p50 of all "
        "550 ms | reported |"
    ) in text
    assert "| most messages + edits in a group's 60 s | 3 (group -1001003, at 12:00:31.000)" in text
    assert "| -1001003 | 3 | 3 | 0 | 0 | 3 |" in text


def test_edits_per_chat_count_every_call() -> None:
    attempts = [
        edit(T0),
        edit(T0 + 1, status=429),
        edit(T0 + 2, text=LIVE, message=8),
        refused(T0 + 3, text=LIVE, message=8),
        SendAttempt(T0 + 4, CHAT, "editMessageReplyMarkup", 200, message_id=7),
        send(T0 + 5, chat=CHAT),
    ]
    chat = judge_edits(attempts).chats[CHAT]
    assert (chat.calls, chat.applied, chat.live, chat.not_modified) == (5, 3, 1, 1)


def test_a_press_handled_again_after_a_bot_kill_is_a_designed_not_modified() -> None:
    """The bot, killed while it held a press, handles it again after its restart with the
    message as it was when pressed: its removal of buttons that a worker's edit removed since
    is answered "not modified". Designed only with a kill of the bot shortly before, and an
    edit of that message that took effect."""
    card_final = edit(T0, text="⏹ job-x · cancelled")
    removal = SendAttempt(
        T0 + 4.5,
        CHAT,
        "editMessageReplyMarkup",
        400,
        text="",
        message_id=7,
        description=NOT_MODIFIED,
    )
    attempts = [card_final, removal]
    verdict = judge([], [], attempts=attempts, kills=[Kill(T0 + 2, "bot", 77)])
    assert verdict.ok, verdict.edits
    [item] = verdict.edits.designed_items
    assert "kill of bot (pid 77)" in item and "a press it held" in item
    assert not judge([], [], attempts=attempts, kills=[Kill(T0 + 2, "research")]).ok
    assert not judge([], [], attempts=[removal], kills=[Kill(T0 + 2, "bot")]).ok  # nothing landed
