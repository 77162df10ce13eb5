"""Who may decide an approval, and when: only the job's own chat (the console too decides as
its own chat), only once, only while the request is open. Tested on the rule function itself."""

from __future__ import annotations

import pytest

from core.domain.jobs.approval import Decided, decision_refusal
from core.domain.jobs.models import ApprovalDecision

CHAT = 4242
FIRST: Decided = (True, ApprovalDecision(user_id=7, chat_id=CHAT), "09:00")


def test_an_open_request_in_its_own_chat_is_decided() -> None:
    decision = ApprovalDecision(user_id=8, chat_id=CHAT)
    assert decision_refusal("job-a", decision, CHAT, None, "") is None


@pytest.mark.parametrize("approve_first", [True, False])
def test_a_second_decision_is_refused_and_names_the_first(approve_first: bool) -> None:
    earlier: Decided = (approve_first, ApprovalDecision(user_id=7, chat_id=CHAT), "09:00")
    for later in (
        ApprovalDecision(user_id=8, chat_id=CHAT),
        ApprovalDecision(user_id=7, chat_id=CHAT),  # the same person pressing again
    ):
        refusal = decision_refusal("job-a", later, CHAT, earlier, "")
        verb = "approved" if approve_first else "denied"
        assert refusal == (
            f"job-a was already {verb} by user 7 at 09:00; nothing more to decide"
        ), refusal


def test_another_chat_is_refused_before_anything_is_said_about_the_job() -> None:
    stranger = ApprovalDecision(user_id=9, chat_id=CHAT + 1)
    for earlier in (None, FIRST):
        refusal = decision_refusal("job-a", stranger, CHAT, earlier, "")
        assert refusal == "only the chat job-a belongs to can decide"


def test_a_closed_request_is_refused_with_its_reason() -> None:
    decision = ApprovalDecision(user_id=8, chat_id=CHAT)
    refusal = decision_refusal("job-a", decision, CHAT, None, "it was cancelled")
    assert refusal == "job-a is no longer waiting: it was cancelled"
    # No payload field lifts the rule: an old `console` flag is refused, not obeyed.
    console = ApprovalDecision.model_validate({"user_id": 1, "console": True})
    refusal = decision_refusal("job-a", console, CHAT, None, "")
    assert refusal == "a decision carries only user_id and chat_id (not console)"
