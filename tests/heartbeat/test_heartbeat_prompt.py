"""Prompt resolution (workspace file → template → inline → HEARTBEAT_DEFAULT_PROMPT), the
checklist's items, and the metadata preamble."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain.heartbeat.prompt import (
    PreambleContext,
    RunDigest,
    build_preamble,
    checklist_items,
    choose_prompt,
)
from core.io.heartbeat.defaults import default_checklist_template

CHECKLIST = "# Heartbeat\n\n- Check that the nightly backup job completed\n"


def resolve(**kw: object) -> object:
    values: dict[str, object] = {
        "file_path": "HEARTBEAT.md",
        "file_text": None,
        "file_created": False,
        "template_id": "",
        "template_text": None,
        "inline": "",
        "default": "",
    }
    values.update(kw)
    return choose_prompt(**values)  # type: ignore[arg-type]


def test_the_default_template_has_no_items() -> None:
    template = default_checklist_template()
    assert "HEARTBEAT_OK" in template and checklist_items(template) == []


def test_items_are_what_is_not_heading_comment_rule_or_empty_bullet() -> None:
    text = (
        "# Title\n<!-- a comment\n- not an item -->\n---\n- \n* [ ]\n1.\n\n"
        "- Check disk usage\nPlain instruction line\n## Section\n2. Second item\n"
    )
    assert checklist_items(text) == [
        "- Check disk usage",
        "Plain instruction line",
        "2. Second item",
    ]


def test_the_workspace_file_wins() -> None:
    chosen = resolve(
        file_text=CHECKLIST, template_id="t", template_text="T", inline="I", default="D"
    )
    assert chosen.source == "workspace_file" and chosen.text == CHECKLIST and chosen.runnable


def test_a_file_created_this_run_makes_no_llm_call() -> None:
    chosen = resolve(file_created=True, inline="I", default="D")
    assert chosen.created and not chosen.runnable


def test_an_empty_checklist_falls_through_in_order() -> None:
    empty = default_checklist_template()
    assert resolve(file_text=empty, template_id="t", template_text="T").source == "template"
    assert resolve(file_text=empty, inline="I", default="D").source == "inline"
    chosen = resolve(file_text=empty, default="D")
    assert chosen.source == "default" and chosen.text == "D"
    assert "HEARTBEAT.md has no items" in chosen.notes
    nothing = resolve(file_text=empty)
    assert nothing.source == "none" and not nothing.runnable


def test_a_missing_template_is_noted_and_skipped() -> None:
    chosen = resolve(file_path="", template_id="gone", template_text=None, inline="I")
    assert chosen.source == "inline" and "template 'gone' not found" in chosen.notes


def test_the_preamble_carries_the_metadata() -> None:
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    preamble = build_preamble(
        PreambleContext(
            now=now,
            timezone="Europe/Berlin",
            target_name="ops group (-100123), topic 42",
            interval_minutes=30,
            run_number=7,
            last_run_at=now - timedelta(minutes=30),
            messages_since_last_run=3,
            last_user_message_at=now - timedelta(minutes=12),
            previous_result="x" * 600,
            previous_result_max_chars=500,
            recent_runs=[
                RunDigest(at=now - timedelta(minutes=30 * i), outcome="posted", result=f"r{i}")
                for i in range(1, 5)
            ],
            job_changes=["job-abc: completed — run: df -h"],
            ack_token="ALL_QUIET",
        )
    )
    assert "Current time: 2026-03-01 10:30 (Europe/Berlin)" in preamble
    assert "ops group (-100123), topic 42; heartbeat every 30 min" in preamble
    assert "Run number: 7" in preamble
    assert "Last run: 2026-03-01 10:00 (30 min ago)" in preamble
    assert "3 message(s) from the person; last message 12 min ago" in preamble
    assert "x" * 500 + " […]" in preamble and "x" * 501 not in preamble
    assert "r3" in preamble and "r4" not in preamble  # a digest of the last three runs
    assert "job-abc: completed" in preamble
    assert "reply with exactly ALL_QUIET" in preamble
    assert "REPETITION ALERT" not in preamble and "post_heartbeat_to_channel" not in preamble


def test_the_preamble_for_optional_dispatch_and_repetition() -> None:
    preamble = build_preamble(
        PreambleContext(
            now=datetime(2026, 3, 1, tzinfo=UTC),
            timezone="UTC",
            target_name="t",
            interval_minutes=15,
            run_number=4,
            dispatch_mode="optional",
            repetition_results=["same", "same", "same"],
        )
    )
    assert "post_heartbeat_to_channel" in preamble and "first run" in preamble
    assert "REPETITION ALERT" in preamble and preamble.count("same") >= 3
