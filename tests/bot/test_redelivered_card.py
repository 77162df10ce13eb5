"""A message handled again after the bot died between posting a job's card and starting the
job (Telegram sends the unconfirmed update again): the job starts with the card already shown,
and the person gets no second card."""

from __future__ import annotations

import json

import pytest
from temporalio.client import Client

from bot.types import Incoming, Reply
from core.domain.ids import request_job_id
from core.domain.jobs.models import JobState
from tests.support.jobs import wait_status
from tests.support.stack import ALLOWED_USER, Stack

CARD_ID = 4242


async def test_a_message_handled_again_posts_no_second_card(
    stack: Stack, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = ALLOWED_USER
    msg = Incoming(
        user_id=ALLOWED_USER,
        chat_id=chat,
        text="/exec echo once-carded",
        request_key=f"1:{chat}:7711",
    )
    job_id = request_job_id(msg.request_key or "", 0)
    posted: list[Reply] = []

    async def post(reply: Reply) -> list[int]:
        posted.append(reply)
        return [CARD_ID] if reply.job_id else []

    async def died_before_the_start(*_args: object, **_kw: object) -> None:
        raise ConnectionError("the bot died here")

    with monkeypatch.context() as patch:
        patch.setattr(stack.operator.jobs, "start", died_before_the_start)
        await stack.operator.handle(msg, post=post)
    cards = [r for r in posted if r.job_id == job_id]
    assert len(cards) == 1 and "started" in cards[0].text

    posted.clear()
    await stack.operator.handle(msg, post=post)  # the same update, handled again
    assert not [r for r in posted if r.job_id == job_id], [r.text for r in posted]
    await wait_status(client, job_id, JobState.completed)
    history = await client.get_workflow_handle(job_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    spec = json.loads(started.input.payloads[0].data)
    assert spec["card_message_id"] == CARD_ID  # the job keeps the card it already had
