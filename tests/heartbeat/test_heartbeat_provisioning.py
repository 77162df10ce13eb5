"""Which private chats have a heartbeat, and when it is made: at start-up for each allowed person
(the console chat in console mode) and by `/heartbeat on` — never while a message is answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.console import CONSOLE_CHAT_ID
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.render import html_to_plain
from core.io.settings import Settings
from hbo.workers import heartbeat_private_chats, sync_heartbeats
from tests.heartbeat.harness import Harness

SCHEDULE_RPCS = (
    "count_schedules",
    "create_schedule",
    "delete_schedule",
    "describe_schedule",
    "list_schedule_matching_times",
    "list_schedules",
    "patch_schedule",
    "update_schedule",
)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_telegram_mode_provisions_each_allowed_persons_private_chat() -> None:
    telegram = settings(TELEGRAM_BOT_TOKEN="1:x", TELEGRAM_ALLOWED_USER_IDS="5,6,5")
    assert heartbeat_private_chats(telegram) == [5, 6]  # a private chat's id is its person's


def test_console_mode_provisions_the_console_chat_only() -> None:
    # No Telegram chat can reach the bot then: the allowed people get nothing of their own.
    console = settings(TELEGRAM_ALLOWED_USER_IDS="5,6")
    assert console.console_mode
    assert heartbeat_private_chats(console) == [CONSOLE_CHAT_ID]


async def reply(hb: Harness, chat: int, command: str) -> str:
    return "\n".join(html_to_plain(r.text) for r in await hb.say(chat, command))


async def test_an_allowed_persons_private_chat_has_its_heartbeat_from_start_up(
    hb: Harness,
) -> None:
    chat = hb.new_chat()
    target = HeartbeatTarget(chat_id=chat)
    allowed = hb.settings.telegram_allowed_user_ids
    hb.settings.telegram_allowed_user_ids = [chat]  # only this test's chat gets a schedule here
    try:
        await sync_heartbeats(hb.runtime)  # what an operator-queue worker runs as it starts
    finally:
        hb.settings.telegram_allowed_user_ids = allowed
    try:
        row = await hb.store.get(target)
        assert row is not None and row.source == "auto" and row.enabled
        desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(minutes=15)
        view = await reply(hb, chat, "/heartbeat")
        assert "▶️ on · every 15 min" in view and target.schedule_id in view
        assert "HEARTBEAT.md (created on the next run)" in view

        # A heartbeat its person turned off stays off through the next start-up.
        await hb.admin.toggle(target, False, None)
        changed = await hb.admin.schedules.sync_all([chat])
        assert not [line for line in changed if target.schedule_id in line]
        assert "⏸ paused" in await reply(hb, chat, "/heartbeat")
    finally:
        await hb.admin.toggle(target, False, None)


async def test_answering_a_message_makes_no_schedule_call(
    hb: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private chat without a heartbeat (not allowed at start-up) talks to the bot: no
    heartbeat appears and Temporal hears no schedule call; `/heartbeat on` then provisions it."""
    calls: list[str] = []
    service = hb.operator.deps.client.workflow_service

    def spy(name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def recorded(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return await call(*args, **kwargs)

        return recorded

    for name in SCHEDULE_RPCS:
        monkeypatch.setattr(service, name, spy(name, getattr(service, name)))

    chat = hb.new_chat()
    target = HeartbeatTarget(chat_id=chat)
    assert "/heartbeat" in await reply(hb, chat, "/help")
    await reply(hb, chat, "/jobs")
    await reply(hb, chat, "what is running")
    assert calls == []
    assert await hb.store.get(target) is None
    assert "No heartbeat" in await reply(hb, chat, "/heartbeat")
    assert calls == []

    try:
        assert "Heartbeat on" in await reply(hb, chat, "/heartbeat on")
        assert "create_schedule" in calls  # the spy sees the calls a person asks for
        row = await hb.store.get(target)
        assert row is not None and row.source == "command" and row.enabled
    finally:
        await hb.admin.toggle(target, False, None)
