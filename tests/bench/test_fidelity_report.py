"""The fidelity report: a markdown page and a PNG timeline from a verdict, without a run."""

from __future__ import annotations

from pathlib import Path

from bench._fidelity.deploy import Event
from bench._fidelity.judge import Delivery, JobTruth, Kill, judge
from bench._fidelity.report import Fault, RunFacts, markdown, timeline
from core.domain.jobs.models import JobState, NotifyPolicy


def test_report_and_timeline_show_what_was_lost(tmp_path: Path) -> None:
    truths = [
        JobTruth(
            f"job-r{i:03d}",
            -1001000 - i % 3,
            None,
            NotifyPolicy.state_changes,
            ((JobState.running, 100.0 + i), (JobState.completed, 101.0 + i)),
            JobState.completed,
            101.0 + i,
        )
        for i in range(40)
    ]
    told = [Delivery(t.chat_id, None, f"✅ {t.job_id} · completed", 102.5 + i) for i, t in
            enumerate(truths[1:], start=1)]  # fmt: skip
    kills = [
        Kill(120.0, "bot", 11, "bot"),
        Kill(130.0, "operator", 12, "worker", ("job-r001 x",), True),
    ]
    verdict = judge(truths, told, kills=kills)
    facts = RunFacts("cmd", "SQLite", ["hbo bot"], ["1001"], 90.0, 150.0, 160.0, 170.0,
                     40, 0, 0, 0, 0, 120, 3)  # fmt: skip
    events = [Event(120.0, "kill", "bot"), Event(130.0, "aimed-kill", "operator", "claimed")]
    faults = [Fault(110.0, 429, False), Fault(111.0, 502, True)]
    picture, page = tmp_path / "timeline.png", tmp_path / "report.md"
    timeline(picture, verdict, facts, events, faults, told, truths, verdict.lost_jobs)
    markdown(page, picture, verdict, facts, events, faults, kills)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text(encoding="utf-8")
    assert "**FAIL" in text and verdict.line() in text
    assert "| lost | 1 | must be 0 |" in text
    assert "job-r000 completed" in text
    assert "Kills: 2 (bot 1, operator 1); aimed between a ledger claim and its confirm: 1" in text
    assert "| 00:02:10.000 | operator | 12 | `worker` | yes | job-r001 x |" in text
