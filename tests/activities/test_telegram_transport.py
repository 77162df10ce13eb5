"""The one Telegram transport: every bot comes from one factory with the settings' Bot API URL
and rate limiter; the heartbeat's `getChat` goes through the sender's bot (no second bot, closed
with the sender) and through the one error mapper; a retried send resumes after the parts
already delivered, for the notify activities and the bot's replies alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.constants import ParseMode
from telegram.error import NetworkError
from telegram.ext import AIORateLimiter

from activities.heartbeat.validate import (
    ConsoleChatValidator,
    TelegramChatValidator,
    build_validator,
)
from activities.telegram.bot import UpdatesRequest
from activities.telegram.console import ConsoleSender
from activities.telegram.errors import Final, RateLimited, Transient
from activities.telegram.parts import OnSent
from activities.telegram.resume import DeliveredParts, send_resuming
from activities.telegram.telegram_sender import TelegramSender
from bot.telegram_app import build_application, deliver
from core.domain.messages import ChatMessage
from core.io.settings import Settings
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings

GROUP = -100_4242
GONE = -100_4343


@pytest.fixture
async def botapi() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TEST_TOKEN) as emu:
        yield emu


@pytest.fixture
def settings(tmp_path: Path, botapi: BotApiEmulator) -> Settings:
    return make_settings(
        tmp_path,
        "unused:0",
        TELEGRAM_BASE_URL=botapi.base_url,
        TELEGRAM_BASE_FILE_URL=botapi.base_file_url,
    )


async def test_the_chat_validator_asks_through_the_senders_bot_and_closes_with_it(
    settings: Settings, botapi: BotApiEmulator
) -> None:
    sender = TelegramSender(settings)
    validator = build_validator(sender)
    assert isinstance(validator, TelegramChatValidator) and validator.sender is sender
    botapi.set_unreachable(GONE, status=403)

    assert await validator.check(GROUP) == (True, "")
    reachable, reason = await validator.check(GONE)
    assert not reachable and reason and TEST_TOKEN not in reason
    await sender.send(ChatMessage(chat_id=GROUP, text="same bot"))
    assert len(botapi.calls_to("getMe")) == 1  # one bot, started once

    await validator.close()  # the sender owns the bot: still open
    assert await validator.check(GROUP) == (True, "")
    await sender.close()
    with pytest.raises(NetworkError, match="not initialized"):
        await sender.bot.get_chat(GROUP)  # its connection pool is gone


async def test_get_chat_failures_go_through_the_one_error_mapper(
    settings: Settings, botapi: BotApiEmulator
) -> None:
    sender = TelegramSender(settings)
    validator = build_validator(sender)
    try:
        botapi.fail_next("getChat", 429, retry_after=3)
        with pytest.raises(RateLimited) as limited:
            await validator.check(GROUP)
        assert limited.value.seconds == 3
        botapi.fail_next("getChat", 502)
        with pytest.raises(Transient) as down:
            await validator.check(GROUP)
        assert down.value.kind == "TelegramUnavailable"
    finally:
        await sender.close()


async def test_a_bad_token_is_final_for_the_validator(
    tmp_path: Path, botapi: BotApiEmulator
) -> None:
    wrong = make_settings(
        tmp_path, "unused:0", TELEGRAM_BOT_TOKEN="999:WRONG", TELEGRAM_BASE_URL=botapi.base_url
    )
    sender = TelegramSender(wrong)
    with pytest.raises(Final) as rejected:
        await build_validator(sender).check(GROUP)
    assert rejected.value.kind == "BadToken"
    await sender.close()


def test_the_console_chat_is_always_reachable(tmp_path: Path) -> None:
    assert isinstance(build_validator(ConsoleSender(pictures=tmp_path)), ConsoleChatValidator)


def test_the_application_and_the_sender_get_their_bots_from_one_factory(
    settings: Settings, botapi: BotApiEmulator
) -> None:
    polls: list[int] = []
    app = build_application(settings, operator=None, on_poll=lambda: polls.append(1))  # type: ignore[arg-type]
    sender = TelegramSender(settings)
    for bot in (app.bot, sender.bot):
        assert bot.base_url.startswith(botapi.base_url)
        assert isinstance(bot.rate_limiter, AIORateLimiter)
    assert app.bot.base_file_url.startswith(botapi.base_file_url)
    assert isinstance(app.bot._request[0], UpdatesRequest)  # getUpdates feeds /readyz
    assert app.bot.defaults is not None and app.bot.defaults.parse_mode == ParseMode.HTML
    assert sender.bot.defaults is None  # captions and documents are sent as given


class FlakySender:
    """Delivers each call as a message id; fails once at the calls listed in `fail_at`."""

    def __init__(self, parts: int, fail_at: set[int]) -> None:
        self.parts = parts
        self.fail_at = fail_at
        self.delivered: list[int] = []

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        ids = []
        for index in range(skip_chunks, self.parts):
            if index in self.fail_at:
                self.fail_at.discard(index)
                raise Transient("Bad Gateway", "TelegramUnavailable")
            self.delivered.append(index)
            ids.append(100 + index)
            if on_sent is not None:
                on_sent(index + 1)
        return ids


async def test_a_retry_resumes_after_the_parts_already_delivered() -> None:
    sender = FlakySender(parts=4, fail_at={2})
    counts: list[int] = []
    delivered = DeliveredParts(on_change=counts.append)
    message = ChatMessage(chat_id=1, text="long")
    with pytest.raises(Transient):
        await send_resuming(sender, message, delivered)
    assert delivered.count == 2
    assert await send_resuming(sender, message, delivered) == [102, 103]
    assert sender.delivered == [0, 1, 2, 3] and counts == [1, 2, 3, 4]


async def test_the_bots_replies_resume_the_same_way() -> None:
    sender = FlakySender(parts=3, fail_at={1})
    ids = await deliver(sender, ChatMessage(chat_id=1, text="long"))  # type: ignore[arg-type]
    assert sender.delivered == [0, 1, 2] and ids == [101, 102]


class ScriptedSender:
    """Raises the failures given, one per call, then delivers one message."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: OnSent | None = None
    ) -> list[int]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [200]


async def test_the_bot_retries_a_rate_limit_and_a_transient_failure() -> None:
    sender = ScriptedSender(RateLimited(0.01), Transient("Bad Gateway", "TelegramUnavailable"))
    ids = await deliver(sender, ChatMessage(chat_id=1, text="hi"))  # type: ignore[arg-type]
    assert ids == [200] and sender.calls == 3


async def test_the_bot_gives_up_a_final_failure_at_once() -> None:
    sender = ScriptedSender(Final("chat unreachable: blocked", "ChatUnreachable"))
    ids = await deliver(sender, ChatMessage(chat_id=1, text="hi"))  # type: ignore[arg-type]
    assert ids == [] and sender.calls == 1


async def test_a_document_is_attached_only_from_its_own_chats_folder(
    settings: Settings, botapi: BotApiEmulator
) -> None:
    """A message's document is `<chat folder>/<path>`: attached when the folder is the folder
    of the chat the message goes to and the path is a regular file beneath it (no link)."""
    root = settings.workspaces_dir
    (root / "chat-41" / "job-a").mkdir(parents=True)
    (root / "chat-42").mkdir(parents=True)
    (root / "chat-41" / "job-a" / "report.md").write_text("chat 41's report")
    (root / "chat-42" / "private.md").write_text("chat 42's private file")
    (root / "chat-41" / "job-a" / "peek.md").symlink_to(root / "chat-42" / "private.md")
    sender = TelegramSender(settings)
    try:
        for path in ("chat-41/job-a/report.md", "chat-42/private.md", "chat-41/job-a/peek.md"):
            await sender.send(ChatMessage(chat_id=41, text=f"about {path}", document_path=path))
    finally:
        await sender.close()
    documents = [m.document_content for m in botapi.sent if m.method == "sendDocument"]
    assert documents == [b"chat 41's report"]
    texts = [m.plain_text for m in botapi.sent if m.method == "sendMessage"]
    assert len(texts) == 3  # the text goes without the refused document
