"""A live card's refresh in a group leaves the group's minute to the bot's replies even when they
go from another process: each process's pacer counts only its own calls, the database counts
every process's (`core.io.group_minute`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot

from activities.live_card import LiveCardActivities
from activities.telegram.delivery import TelegramDelivery
from activities.telegram.pacing import GROUP_PER_MINUTE, GROUP_RESERVED, ChatPacer
from core.domain.messages import ChatMessage
from core.io.db import Database
from core.io.group_minute import GroupMinute
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings

GROUP, OTHER_GROUP = -1001234, -1005678


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'groups.db'}")
    await database.migrate()
    yield database
    await database.close()


class WorkerSender:
    """The notify worker's sender as the live card sees it: its own pacer's room."""

    def __init__(self, pacer: ChatPacer) -> None:
        self.pacer = pacer

    def edit_room(self, chat_id: int) -> bool:
        return self.pacer.edit_room(chat_id)


async def test_a_live_refresh_waits_while_the_bots_replies_fill_the_groups_minute(
    tmp_path: Path, db: Database
) -> None:
    minute = GroupMinute(db)
    bot_pacer, worker_pacer = ChatPacer(), ChatPacer()  # two processes
    bot_pacer.group_recorder = worker_pacer.group_recorder = minute.record_soon
    live = LiveCardActivities(
        WorkerSender(worker_pacer),  # type: ignore[arg-type]
        make_settings(tmp_path, "127.0.0.1:7233"),  # no server is reached
        minute,
    )
    replies = GROUP_PER_MINUTE - GROUP_RESERVED
    async with (
        BotApiEmulator(token=TEST_TOKEN) as botapi,
        Bot(TEST_TOKEN, base_url=botapi.base_url) as bot,
    ):
        botapi.add_chat(GROUP, "supergroup")
        replying = TelegramDelivery(bot, tmp_path, pacer=bot_pacer)
        for n in range(replies - 1):
            await replying.send(ChatMessage(chat_id=GROUP, text=f"reply {n}"))
        async with asyncio.timeout(10):  # the positive marker: every reply is counted
            while await minute.count(GROUP) < replies - 1:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert await live._room(GROUP)  # one call left above the reserve
        await replying.send(ChatMessage(chat_id=GROUP, text="one more reply"))
        async with asyncio.timeout(10):
            while await minute.count(GROUP) < replies:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    assert worker_pacer.edit_room(GROUP)  # the worker's own count knows nothing of them
    assert not await live._room(GROUP)
    assert await live._room(OTHER_GROUP)  # another group's minute is its own
    assert await live._room(1001)  # a private chat has no minute budget
