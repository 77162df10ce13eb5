"""Bot API calls are counted by method and outcome where they are made (`TelegramDelivery`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from telegram import Bot

from activities.telegram.delivery import TelegramDelivery
from activities.telegram.errors import TelegramFailure
from activities.telegram.pacing import ChatPacer
from core.domain.messages import ChatMessage
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN


def count(method: str, outcome: str) -> float:
    labels = {"method": method, "outcome": outcome}
    return REGISTRY.get_sample_value("hbo_telegram_sends_total", labels) or 0.0


async def test_sends_are_counted_by_method_and_outcome(tmp_path: Path) -> None:
    chat = 42_4242
    async with (
        BotApiEmulator(token=TEST_TOKEN) as botapi,
        Bot(TEST_TOKEN, base_url=botapi.base_url) as bot,
    ):
        delivery = TelegramDelivery(bot, tmp_path, pacer=ChatPacer())
        before = {outcome: count("sendMessage", outcome) for outcome in ("ok", "429", "4xx", "5xx")}
        botapi.fail_next("sendMessage", 429, retry_after=1)  # waited out, then sent
        await delivery.send(ChatMessage(chat_id=chat, text="after a 429"))
        botapi.fail_next("sendMessage", 500)
        with pytest.raises(TelegramFailure):
            await delivery.send(ChatMessage(chat_id=chat, text="server error"))
        botapi.set_unreachable(chat, status=403)
        with pytest.raises(TelegramFailure):
            await delivery.send(ChatMessage(chat_id=chat, text="blocked"))
        moved = {k: count("sendMessage", k) - v for k, v in before.items()}
    assert moved == {"ok": 1, "429": 1, "4xx": 1, "5xx": 1}
