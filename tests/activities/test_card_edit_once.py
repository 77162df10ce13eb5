"""A card edit goes to Telegram once per content: a retry of an edit that already landed (its
activity timed out while it waited for the chat's turn, and the first attempt went on) is not
sent again, so Telegram never answers "message is not modified" for it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

from telegram import Bot
from temporalio.testing import ActivityEnvironment

from activities.telegram.delivery import TelegramDelivery
from activities.telegram.errors import TelegramFailure
from activities.telegram.pacing import ChatPacer
from core.domain.messages import Button, ChatMessage
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN

CHAT = 4242


def activity(activity_id: str) -> ActivityEnvironment:
    """An attempt of one notify activity (retries of it share its id)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id="job-x", workflow_run_id="run-1", activity_id=activity_id
    )
    return env


RETRY = [Button(label="Retry", data="retry:job-x")]


def edit_answers(botapi: BotApiEmulator) -> list[tuple[int, str]]:
    return [(c.status, c.description or "") for c in botapi.calls if c.method == "editMessageText"]


async def test_a_retried_edit_that_waited_behind_the_first_is_not_sent_again(
    tmp_path: Path,
) -> None:
    async with (
        BotApiEmulator(token=TEST_TOKEN) as botapi,
        Bot(TEST_TOKEN, base_url=botapi.base_url) as bot,
    ):
        delivery = TelegramDelivery(bot, tmp_path, pacer=ChatPacer())
        [card] = await delivery.send(ChatMessage(chat_id=CHAT, text="🆕 job-x · started"))
        # The first attempt meets a 429 and waits it out in the chat's turn; its activity is
        # retried meanwhile (a timeout while the worker lives), and the retry queues behind it.
        botapi.fail_next("editMessageText", 429, retry_after=1)
        edit = (delivery.edit, CHAT, card, "⚠️ job-x · needs attention", RETRY)
        first = asyncio.create_task(activity("7").run(*edit))
        async with asyncio.timeout(5):  # the positive marker: the 429 was answered
            while not botapi.calls or botapi.calls[-1].status != 429:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        retry = asyncio.create_task(activity("7").run(*edit))
        assert await first and await retry
        # Later, a retry after the answer was lost to a crash-free timeout: the same edit again.
        assert await activity("7").run(*edit)
    assert edit_answers(botapi) == [(429, edit_answers(botapi)[0][1]), (200, "")]


async def test_an_edit_back_to_an_earlier_content_or_after_a_5xx_is_sent(tmp_path: Path) -> None:
    async with (
        BotApiEmulator(token=TEST_TOKEN) as botapi,
        Bot(TEST_TOKEN, base_url=botapi.base_url) as bot,
    ):
        delivery = TelegramDelivery(bot, tmp_path, pacer=ChatPacer())
        [card] = await delivery.send(ChatMessage(chat_id=CHAT, text="🆕 job-x · started"))
        running = (delivery.edit, CHAT, card, "▶️ job-x · running", [])
        await activity("1").run(*running)
        # Another notify worker edits it to "needs attention" (this process does not see it);
        # then this process's next card edit goes back to "running": a real change.
        await delivery.edit(CHAT, card, "⚠️ job-x · needs attention", RETRY)
        await activity("3").run(*running)
        completed = (delivery.edit, CHAT, card, "✅ job-x · completed", [])
        botapi.fail_next("editMessageText", 502, applied=True)
        with contextlib.suppress(TelegramFailure):  # the caller retries: the card is unknown now
            await activity("4").run(*completed)
        assert await activity("4").run(*completed)
    statuses = [status for status, _ in edit_answers(botapi)]
    assert statuses == [200, 200, 200, 502, 400]  # the last: the designed "not modified"
