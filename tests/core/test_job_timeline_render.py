"""The timeline renderer from hand-built events: relative times, collapsed attempt runs,
escaping, the length bound, the link."""

from __future__ import annotations

import pytest

from core.domain.jobs.timeline import (
    Accepted,
    Decided,
    Delivery,
    StateChanged,
    StepOutcome,
    StepRun,
    Timeline,
    Told,
    render_timeline,
    since_start,
)
from core.domain.render import html_to_plain, utf16_len
from core.io.jobs.history import job_ui_url
from core.io.settings import Settings


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "+0.0s"),
        (2.14, "+2.1s"),
        (59.94, "+59.9s"),
        (72, "+1m 12s"),
        (3599, "+59m 59s"),
        (3600 + 5 * 60, "+1h 05m"),
        (3 * 86400 + 4 * 3600, "+3d 4h"),
        (-0.2, "+0.0s"),  # a ledger clock a moment behind the server's
    ],
)
def test_times_are_relative_to_the_start(seconds: float, shown: str) -> None:
    assert since_start(seconds) == shown


def plain(timeline: Timeline, limit: int = 3500) -> list[str]:
    return html_to_plain(render_timeline(timeline, limit)).splitlines()


def test_a_long_run_of_failed_attempts_is_one_line_with_the_last_error() -> None:
    run = StepRun(
        at=1.0,
        step_index=0,
        worker="execution",
        attempt=10,
        identity="77@host",
        started_at=80.0,
        ended_at=81.5,
        outcome=StepOutcome.failed,
        error="exit status 3",
        previous_error="exit status 2",
    )
    lines = plain(Timeline(job_id="job-a", events=[Accepted(), run]))
    assert lines[1:] == [
        "+0.0s accepted",
        "+1.0s step 1 · execution: attempts 1–9 → failed, the last: exit status 2",
        "+1m 20s step 1: attempt 10 on 77@host: ✗ failed in 1.5s: exit status 3",
    ]


def test_a_lost_worker_then_a_retry_on_another() -> None:
    run = StepRun(
        at=0.5,
        step_index=0,
        worker="execution",
        attempt=2,
        identity="2@b",
        started_at=9.0,
        ended_at=9.25,
        outcome=StepOutcome.completed,
        previous_lost=True,
        heartbeat_timeout=3,
    )
    lines = plain(Timeline(job_id="job-a", events=[run]))
    assert lines[1:] == [
        "+0.5s step 1 · execution: attempt 1 → its worker lost (no heartbeat for 3.0s)",
        "+9.0s step 1: attempt 2 on 2@b: ✓ done in 0.2s",
    ]
    # While the job waits for another worker, the lost one is still known by name.
    waiting = run.model_copy(
        update={
            "outcome": StepOutcome.waiting,
            "identity": "",
            "started_at": None,
            "ended_at": None,
            "lost_identity": "1@a",
            "waiting_since": 4.0,
        }
    )
    assert plain(Timeline(job_id="job-a", events=[waiting]))[1:] == [
        "+0.5s step 1 · execution: attempt 1 → worker 1@a lost (no heartbeat for 3.0s)",
        "+4.0s step 1: attempt 2: waiting for a worker",
    ]


def test_approval_attention_and_decisions_are_told_with_who() -> None:
    events = [
        Accepted(),
        StateChanged(at=0.1, state="awaiting_approval"),
        Decided(at=5, action="approve", user_id=1001),
        StateChanged(at=5.1, state="running"),
        StateChanged(at=9, state="needs_attention"),
        Decided(at=70, action="reroute", worker="research", user_id=1002),
        Decided(at=71, action="retry", console=True),
        Decided(at=72, action="cancel"),
        StateChanged(at=73, state="cancelled"),
        Delivery(at=73.5, attempts=20, delivered=False, error="chat not found"),
        Told(at=74, status="cancelled#2"),
    ]
    assert plain(Timeline(job_id="job-a", events=events))[1:] == [
        "+0.0s accepted",
        "+0.1s ✋ waiting for approval",
        "+5.0s 👍 approved by user 1001",
        "+5.1s ▶️ running",
        "+9.0s ⚠️ needs attention",
        "+1m 10s ↪️ rerouted to research by user 1002",
        "+1m 11s 🔁 retry asked in the console",
        "+1m 12s ⏹ cancel asked",
        "+1m 13s ⏹ cancelled",
        "+1m 13s ⚠️ a message to the chat was not delivered (20 attempts): chat not found",
        "+1m 14s 📨 result told (cancelled)",
    ]


def test_lines_are_in_time_order_and_the_card_is_not_news() -> None:
    events = [
        Told(at=0.05, status="running"),
        StepRun(at=1, step_index=0, worker="w", started_at=1.2, outcome=StepOutcome.running),
        Accepted(),
    ]
    assert plain(Timeline(job_id="job-a", events=events))[1:] == [
        "+0.0s accepted",
        "+1.2s step 1 · w: running",
    ]


def test_everything_from_outside_is_escaped() -> None:
    run = StepRun(
        at=1,
        step_index=0,
        worker="<b>w</b>",
        identity="<i>x</i>",
        started_at=1,
        ended_at=2,
        outcome=StepOutcome.failed,
        error="<script>&amp;</script>",
    )
    text = render_timeline(
        Timeline(job_id="job-a", events=[run], ui_url='http://ui/"><b>x</b>'), 3500
    )
    assert "<script>" not in text and "<b>w</b>" not in text and "<i>x</i>" not in text
    assert "&lt;script&gt;&amp;amp;&lt;/script&gt;" in text
    assert 'href="http://ui/&quot;&gt;&lt;b&gt;x&lt;/b&gt;"' in text


def test_a_long_story_keeps_its_start_and_its_end_within_the_bound() -> None:
    events: list[object] = [Accepted()]
    for episode in range(200):
        at = 10.0 * episode + 1
        events.append(StateChanged(at=at, state="needs_attention"))
        events.append(Decided(at=at + 1, action="retry", user_id=1001))
        events.append(
            StepRun(
                at=at + 2,
                step_index=0,
                worker="execution",
                attempt=5,
                identity="9@h",
                started_at=at + 3,
                ended_at=at + 4,
                outcome=StepOutcome.failed,
                error="x" * 1000,
                previous_error="y" * 1000,
            )
        )
    events.append(StateChanged(at=5000, state="failed"))
    timeline = Timeline.model_validate(
        {"job_id": "job-a", "events": [e.model_dump() for e in events]}  # type: ignore[attr-defined]
    )
    text = render_timeline(timeline, 3500)
    assert utf16_len(text) <= 3500
    lines = html_to_plain(text).splitlines()
    assert lines[1] == "+0.0s accepted"
    assert lines[-1] == "+1h 23m ❌ failed"
    assert any(line.startswith("… ") and line.endswith(" more events") for line in lines)
    # One error never takes the message: it is cut short.
    assert max(utf16_len(line) for line in lines) < 260


def test_the_web_ui_link_only_when_known() -> None:
    with_link = render_timeline(
        Timeline(job_id="job-a", events=[Accepted()], ui_url="http://127.0.0.1:8233/x")
    )
    assert '<a href="http://127.0.0.1:8233/x">http://127.0.0.1:8233/x</a>' in with_link
    assert "href" not in render_timeline(Timeline(job_id="job-a", events=[Accepted()]))


def test_the_ui_address_comes_from_the_setting_or_the_embedded_server() -> None:
    def ui(**values: object) -> str | None:
        return Settings(_env_file=None, **values).temporal_ui_address  # type: ignore[call-arg]

    assert ui() == "http://127.0.0.1:8233"
    assert ui(TEMPORAL_UI_PORT=9999) == "http://127.0.0.1:9999"
    assert ui(TEMPORAL_ADDRESS="temporal:7233") is None  # somebody else's server: unknown
    assert ui(TEMPORAL_ADDRESS="t:7233", TEMPORAL_UI_URL="https://ui.example/") == (
        "https://ui.example"
    )
    assert job_ui_url("https://ui.example", "my ns", "job-a") == (
        "https://ui.example/namespaces/my%20ns/workflows/job-a"
    )
    assert job_ui_url(None, "default", "job-a") is None
