"""Guard boundaries with an injected clock: cooldown and the validation cache's TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain.heartbeat.guards import busy_reason, pending_intake_question, validation_state

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_busy_until_exactly_the_cooldown() -> None:
    assert busy_reason(NOW, NOW - timedelta(minutes=4, seconds=59), 5).startswith("busy")
    assert busy_reason(NOW, NOW - timedelta(minutes=5), 5) == ""
    assert busy_reason(NOW, NOW - timedelta(seconds=1), 0) == ""  # cooldown 0: never busy
    assert busy_reason(NOW, None, 5) == ""


def test_an_unanswered_intake_question_is_busy() -> None:
    asked = pending_intake_question("assistant", "Which server do you mean?", NOW)
    assert asked == NOW
    assert busy_reason(NOW + timedelta(minutes=10), None, 5, asked).startswith("busy")
    assert busy_reason(NOW + timedelta(minutes=30), None, 5, asked) == ""
    assert pending_intake_question("assistant", "Started job-abc.", NOW) is None
    assert pending_intake_question("user", "what?", NOW) is None


def test_the_validation_cache_lasts_exactly_an_hour() -> None:
    checked = NOW - timedelta(seconds=3599)
    assert validation_state(NOW, checked, True) == "reachable"
    assert validation_state(NOW, checked, False) == "unreachable"
    assert validation_state(NOW, NOW - timedelta(seconds=3600), False) == "expired"
    assert validation_state(NOW, None, None) == "expired"
