"""Job ids derive from chat and message ids, so a refusal must not tell a stranger whether an
id exists: `/job` (and every command that looks a job up) answers another chat's job exactly
as it answers an id that names no job — same text, after the same single describe call."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from bot.types import Incoming
from core.domain.ids import request_job_id
from core.domain.jobs.models import JobState
from core.domain.render import html_to_plain
from tests.support.jobs import wait_status
from tests.support.stack import ALLOWED_USER, Stack


def fresh_chat() -> int:
    return 820_000 + uuid.uuid4().int % 10_000


async def answer(stack: Stack, chat: int, text: str) -> str:
    replies = await stack.operator.handle(Incoming(user_id=ALLOWED_USER, chat_id=chat, text=text))
    return "\n".join(html_to_plain(r.text) for r in replies)


@pytest.mark.parametrize("command", ["/job", "/cancel", "/retry", "/reroute"])
async def test_another_chats_job_and_no_job_get_the_same_answer(
    stack: Stack, client: Client, command: str
) -> None:
    owner, stranger = fresh_chat(), fresh_chat()
    spec = stack.operator.planner.exec_job(
        "echo owners-output", chat_id=owner, job_id=request_job_id(f"9:{owner}:1")
    )
    await stack.operator.jobs.start(spec)
    await wait_status(client, spec.job_id, JobState.completed)
    missing = request_job_id(f"9:{owner}:2")  # the next message's id: never started
    suffix = " research" if command == "/reroute" else ""

    existing_answer = await answer(stack, stranger, f"{command} {spec.job_id}{suffix}")
    missing_answer = await answer(stack, stranger, f"{command} {missing}{suffix}")
    assert existing_answer.replace(spec.job_id, "<id>") == missing_answer.replace(
        missing, "<id>"
    ), (existing_answer, missing_answer)
    assert existing_answer == f"⚠️ no job {spec.job_id} in this chat"
    assert "owners-output" not in existing_answer

    # The owner still sees it (the refusal above was about the chat, not the job).
    if command == "/job":
        assert "completed" in await answer(stack, owner, f"/job {spec.job_id}")
