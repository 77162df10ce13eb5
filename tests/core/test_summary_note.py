"""Where a job's summary goes: edited into the one message that told the result when it still
fits there, else a silent follow-up of its own."""

from __future__ import annotations

from core.domain.jobs.messages import SUMMARY_HEAD, summary_note
from core.domain.messages import ChatMessage
from core.domain.render import TELEGRAM_MAX_CHARS


def result(text: str) -> ChatMessage:
    return ChatMessage(chat_id=5, topic_id=7, text=text)


def test_a_one_message_result_gets_the_summary_edited_in() -> None:
    note = summary_note(result("✅ <b>job-abc</b> · completed"), "job-abc", "All fine.", [41, 42])
    assert note.message_id == 41 and note.topic_id == 7
    assert note.edited_text == f"✅ <b>job-abc</b> · completed\n\n{SUMMARY_HEAD}\nAll fine."
    assert "All fine." in note.follow_up


def test_a_result_that_would_no_longer_fit_gets_a_follow_up() -> None:
    text = "x" * (TELEGRAM_MAX_CHARS - 10)
    note = summary_note(result(text), "job-abc", "All fine, in more words than ten.", [41])
    assert note.message_id is None and note.edited_text is None


def test_a_result_in_several_parts_or_not_known_gets_a_follow_up() -> None:
    long = "line\n" * 2000
    assert summary_note(result(long), "job-abc", "ok", [1, 2]).edited_text is None
    assert summary_note(result("short"), "job-abc", "ok", []).message_id is None
