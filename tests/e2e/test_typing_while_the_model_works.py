"""Plain words to a slow model: the person sees Telegram's "typing…" at once and keeps seeing it
while the model works (sendChatAction repeated), and a command typed meanwhile is answered
before the model's answer arrives."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from temporalio.client import Client

from bot.telegram_app import TYPING_EVERY_SECONDS
from core.io.devserver import DevServer
from tests.support.botapi import BotApiEmulator
from tests.support.llm_server import ScriptedLLM, text
from tests.support.stack import ALLOWED_USER, own_deployment

# Longer than two typing periods: the indicator must be renewed while the model works.
MODEL_DELAY = 2 * TYPING_EVERY_SECONDS + 1.5


async def test_typing_is_shown_while_the_model_works_and_commands_go_first(
    dev_server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with (
        ScriptedLLM([text("MODEL-ANSWER: nothing is running.")], delay=MODEL_DELAY) as llm,
        own_deployment(
            dev_server.target,
            client,
            tmp_path,
            "typing",
            OPENAI_API_KEY="sk-test-not-real",
            OPENAI_BASE_URL=llm.base_url,
            LLM_TIMEOUT_SECONDS=60,
        ) as (_stack, botapi, _client),
    ):
        chat = ALLOWED_USER
        botapi.inject_message("is anything running right now?", user_id=chat, chat_id=chat)
        await _typing_count(botapi, chat, 1)
        assert not llm.answered_at  # shown while the model is still working

        botapi.inject_message("/workers", user_id=chat, chat_id=chat)
        workers = await botapi.wait_for(
            lambda m: m.chat_id == chat and "Workers" in (m.plain_text or ""), timeout=30
        )
        answer = await botapi.wait_for(
            lambda m: m.chat_id == chat and "MODEL-ANSWER" in (m.plain_text or ""), timeout=60
        )
        assert workers.at < answer.at  # the command did not wait behind the model
        before_answer = [a for a in botapi.chat_actions if a.chat_id == chat and a.at < answer.at]
        assert len(before_answer) >= 2, before_answer  # renewed while the model worked
        assert all(a.action == "typing" for a in before_answer)
        assert all(a.at < llm.answered_at[0] for a in before_answer)

        # A command alone never shows typing: it does not wait for the model.
        shown = len(botapi.chat_actions)
        botapi.inject_message("/jobs", user_id=chat, chat_id=chat)
        botapi.inject_message("/workers", user_id=chat, chat_id=chat)
        await botapi.wait_for(
            lambda m: m.chat_id == chat and "Workers" in (m.plain_text or "") and m is not workers,
            timeout=30,
        )
        assert len(botapi.chat_actions) == shown


async def _typing_count(botapi: BotApiEmulator, chat: int, want: int) -> None:
    deadline = time.monotonic() + 30
    while sum(1 for a in botapi.chat_actions if a.chat_id == chat) < want:
        if time.monotonic() > deadline:
            raise AssertionError("no typing indicator")
        await asyncio.sleep(0.01)
