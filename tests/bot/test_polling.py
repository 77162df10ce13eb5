"""The bot's polling loop against the Bot API emulator: an update stays unconfirmed until its
handling finished; a chat's messages are handled in order while other chats go on; 409 and
network errors are retried; a stop during a long poll returns at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram import Update

from activities.telegram.bot import build_bot
from bot.polling import UpdatePoller
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings

CHAT_A, CHAT_B = 5101, 5102


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """An emulator of its own: no other bot polls it."""
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        yield emulator


class Handler:
    """Records when each update's handling starts and ends; `gates` hold chosen updates."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}

    async def __call__(self, update: Update) -> None:
        assert update.message is not None and update.message.text is not None
        text = update.message.text
        self.events.append(("start", text))
        gate = self.gates.get(text)
        if gate is not None:
            await gate.wait()
        self.events.append(("end", text))

    def ended(self, text: str) -> bool:
        return ("end", text) in self.events

    def started(self, text: str) -> bool:
        return ("start", text) in self.events


@asynccontextmanager
async def polling(
    api: BotApiEmulator, tmp_path: Path, handle: Handler, poll_timeout: int = 1
) -> AsyncIterator[asyncio.Event]:
    settings = make_settings(
        tmp_path, "unused:0", TELEGRAM_BASE_URL=api.base_url, TELEGRAM_POLL_TIMEOUT=poll_timeout
    )
    bot = build_bot(settings, polling=True)
    stop = asyncio.Event()
    async with bot:
        task = asyncio.create_task(UpdatePoller(bot, handle, poll_timeout).run(stop))
        try:
            yield stop
        finally:
            stop.set()
            for gate in handle.gates.values():
                gate.set()
            await asyncio.wait_for(task, 10)


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def handled_later(api: BotApiEmulator, handle: Handler, chat: int, text: str) -> None:
    """The positive marker that the poller has gone on: an update injected now, in another
    chat, fetched and handled to its end. Whatever was fetched before it was dispatched then."""
    api.inject_message(text, user_id=chat)
    await until(lambda: handle.ended(text), f"the later update {text!r}")


def pending_ids(api: BotApiEmulator) -> set[int]:
    return {u["update_id"] for u in api.pending_updates}


def polls(api: BotApiEmulator) -> int:
    return len(api.calls_to("getUpdates"))


async def test_an_update_is_confirmed_only_once_handled(
    api: BotApiEmulator, tmp_path: Path
) -> None:
    handle = Handler()
    handle.gates["slow"] = asyncio.Event()
    async with polling(api, tmp_path, handle):
        slow = api.inject_message("slow", user_id=CHAT_A)
        await until(lambda: handle.started("slow"), "the handling to start")
        later = api.inject_message("later", user_id=CHAT_B)
        await until(lambda: handle.ended("later"), "another chat's update to be handled")
        before = polls(api)
        await until(lambda: polls(api) >= before + 2, "two more polls")
        # Polled on, but neither the running update nor the one after it is confirmed.
        assert pending_ids(api) == {slow, later}
        handle.gates["slow"].set()
        await until(lambda: not pending_ids(api), "both to be confirmed")


async def test_a_chats_messages_are_handled_in_order_while_other_chats_go_on(
    api: BotApiEmulator, tmp_path: Path
) -> None:
    handle = Handler()
    handle.gates["a1"] = asyncio.Event()
    async with polling(api, tmp_path, handle):
        # One batch: injected before the poller's next getUpdates can answer.
        for text, chat in (("a1", CHAT_A), ("a2", CHAT_A), ("b1", CHAT_B)):
            api.inject_message(text, user_id=chat)
        await until(lambda: handle.ended("b1"), "the other chat to be handled")
        # A later update of the other chat handled: the batch with a2 was dispatched long ago.
        await handled_later(api, handle, CHAT_B, "b2")
        assert handle.started("a1") and not handle.started("a2"), handle.events
        handle.gates["a1"].set()
        await until(lambda: handle.ended("a2"), "the chat's second message")
        a_events = [e for e in handle.events if e[1] in ("a1", "a2")]
        assert a_events == [("start", "a1"), ("end", "a1"), ("start", "a2"), ("end", "a2")]
        await until(lambda: not pending_ids(api), "all three to be confirmed")


async def test_a_command_does_not_wait_for_plain_words_but_words_wait_for_a_command(
    api: BotApiEmulator, tmp_path: Path
) -> None:
    """Plain words may wait for the language model; a command typed after them goes ahead.
    Words about a job come after the command that started it."""
    handle = Handler()
    handle.gates["what is running?"] = asyncio.Event()
    handle.gates["/exec slow"] = asyncio.Event()
    async with polling(api, tmp_path, handle):
        for text in ("what is running?", "/workers", "/exec slow", "/jobs", "cancel it"):
            api.inject_message(text, user_id=CHAT_A)
        await until(lambda: handle.ended("/workers"), "the command after the words")
        await until(lambda: handle.started("/exec slow"), "the next command")
        await handled_later(api, handle, CHAT_B, "other chat 1")
        assert not handle.started("/jobs") and not handle.started("cancel it"), handle.events
        handle.gates["/exec slow"].set()
        await until(lambda: handle.ended("/jobs"), "the command after the slow one")
        await handled_later(api, handle, CHAT_B, "other chat 2")
        assert not handle.started("cancel it"), "words wait for the words before them"
        handle.gates["what is running?"].set()
        await until(lambda: handle.ended("cancel it"), "the last words")
        assert handle.events.index(("end", "/exec slow")) < handle.events.index(
            ("start", "cancel it")
        )


@pytest.mark.parametrize("status", [409, 502])
async def test_conflict_and_network_errors_are_retried(
    api: BotApiEmulator, tmp_path: Path, status: int
) -> None:
    handle = Handler()
    api.fail_next("getUpdates", status=status, count=2)
    async with polling(api, tmp_path, handle):
        update = api.inject_message("hello", user_id=CHAT_A)
        await until(lambda: handle.ended("hello"), "the update after two failed polls")
        await until(lambda: update not in pending_ids(api), "the update to be confirmed")
        failed = [c for c in api.calls_to("getUpdates") if c.status == status]
        assert len(failed) == 2


async def test_a_stop_during_a_long_poll_returns_at_once(
    api: BotApiEmulator, tmp_path: Path
) -> None:
    handle = Handler()
    async with polling(api, tmp_path, handle, poll_timeout=30) as stop:
        api.inject_message("first", user_id=CHAT_A)
        await until(lambda: handle.ended("first"), "the first update")
        await until(lambda: not pending_ids(api), "it to be confirmed")
        # The next getUpdates is held by the emulator, waiting up to 30 s for news.
        await until(lambda: api.long_polls_held == 1, "the next long poll to be held")
        stopped = time.monotonic()
        stop.set()
    took = time.monotonic() - stopped
    assert took < 2.0, f"stop took {took:.1f} s"
