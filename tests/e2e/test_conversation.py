"""A person's requests in one chat, through the real bot at the Bot API emulator: a burst typed
at once, and a conversation (each request sent when the previous answer arrived). Every request
gets its card first and its result once, with the output — also while Telegram answers some
sends with 429."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client

from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.jobs import wait_closed
from tests.support.stack import Stack

CHAT = 1003  # a private chat: the allowed user's own


def _card(botapi: BotApiEmulator, marker: str) -> SentMessage | None:
    return next(
        (
            m
            for m in botapi.messages_to(CHAT)
            if "started" in (m.plain_text or "") and marker in (m.plain_text or "")
        ),
        None,
    )


def _results(botapi: BotApiEmulator, job_id: str, marker: str) -> dict[int, SentMessage]:
    return botapi.results_shown(CHAT, job_id, marker)


async def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


async def test_a_burst_in_one_chat_is_answered_each_once_card_first(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    count = 50
    tag = f"burst{time.time_ns() % 10**8}"
    markers = [f"{tag}-{i}" for i in range(count)]
    botapi.set_fault_rate(
        0.2, statuses=(429,), methods=("sendMessage", "editMessageText"), seed=3, retry_after=1
    )
    try:
        for marker in markers:
            botapi.inject_message(f"/exec echo {marker}", user_id=CHAT, chat_id=CHAT)
        await _wait(lambda: all(_card(botapi, m) for m in markers), 180, "every card")
        cards = {m: _card(botapi, m) for m in markers}
        jobs = {m: (card.plain_text or "").split()[1] for m, card in cards.items() if card}
        await _wait(lambda: all(_results(botapi, jobs[m], m) for m in markers), 240, "every result")
        # Every job has ended, each after its own sends: a duplicate would be here by now.
        for job_id in jobs.values():
            await wait_closed(client, job_id)
    finally:
        botapi.clear_faults()
    for marker in markers:
        results = _results(botapi, jobs[marker], marker)
        assert len(results) == 1, f"{marker}: told {len(results)} times"
        (result,) = results.values()
        card = cards[marker]
        assert card is not None and result.message_id >= card.message_id  # card first
        assert marker in (result.plain_text or "")  # with its output
    assert any(c.status == 429 for c in botapi.calls_to("sendMessage")), "no 429 was injected"


async def test_a_conversation_gets_every_answer_once(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    tag = f"talk{time.time_ns() % 10**8}"
    job_ids: list[str] = []
    for i in range(10):
        marker = f"{tag}-{i}"
        botapi.inject_message(f"/exec echo {marker}", user_id=CHAT, chat_id=CHAT)
        await _wait(lambda m=marker: _card(botapi, m) is not None, 30, f"card {marker}")
        card = _card(botapi, marker)
        assert card is not None
        job_id = (card.plain_text or "").split()[1]
        await _wait(lambda j=job_id, m=marker: _results(botapi, j, m), 30, f"result {marker}")
        job_ids.append(job_id)
    for job_id in job_ids:  # each ended, after its own sends: a duplicate would be here now
        await wait_closed(client, job_id)
    for i in range(10):
        marker = f"{tag}-{i}"
        card = _card(botapi, marker)
        assert card is not None
        assert len(_results(botapi, (card.plain_text or "").split()[1], marker)) == 1
