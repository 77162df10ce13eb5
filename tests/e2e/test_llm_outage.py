"""An optional LLM never takes jobs or the chat down with it: against a model endpoint that is
down (connection refused), hangs (accepts, never answers) or answers garbage (non-JSON, wrong
shape, HTTP 500), through Telegram (Bot API emulator) and the console transport:
`/exec` finishes with the plain report, plain words fall back to the keyword router, a command
typed while the model hangs is answered at once, the person is told once that the model is
unavailable, and no chat message shows a traceback or an exception class."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from bot.console import run_console
from bot.operator import LLM_OUTAGE_NOTICE
from core.io.devserver import DevServer
from tests.support.botapi import BotApiEmulator
from tests.support.chat_checks import INTERNALS, assert_no_internals
from tests.support.llm_server import FAULT_MODES, Mode, ScriptedLLM
from tests.support.namespaces import new_namespace
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack, make_settings, running_stack

NOTICE_WORDS = "language model is not answering"


@contextlib.asynccontextmanager
async def outage_stack(
    dev_server: DevServer, admin: Client, data: Path, mode: Mode, **overrides: Any
) -> AsyncIterator[tuple[Stack, BotApiEmulator, ScriptedLLM]]:
    """Workers + bot in a namespace of their own, their LLM a misbehaving endpoint. The breaker
    opens after two failures and stays open for the whole test."""
    client = await new_namespace(dev_server.target, admin, f"llm-{mode}")
    async with ScriptedLLM(mode=mode) as llm, BotApiEmulator(token=TEST_TOKEN) as botapi:
        values: dict[str, Any] = {
            "TELEGRAM_BASE_URL": botapi.base_url,
            "TEMPORAL_NAMESPACE": client.namespace,
            "OPENAI_API_KEY": "sk-test-not-real",
            "OPENAI_BASE_URL": llm.base_url,
            "LLM_TIMEOUT_SECONDS": 3,
            "LLM_JOB_TIMEOUT_SECONDS": 3,
            "LLM_BREAKER_FAILURES": 2,
            "LLM_BREAKER_RESET_SECONDS": 600,
        }
        values.update(overrides)
        settings = make_settings(data, dev_server.target, **values)
        async with running_stack(settings, client) as stack:
            yield stack, botapi, llm


@pytest.mark.parametrize("mode", FAULT_MODES)
async def test_telegram_chat_and_jobs_survive_a_misbehaving_llm(
    dev_server: DevServer, client: Client, tmp_path: Path, mode: Mode
) -> None:
    async with outage_stack(dev_server, client, tmp_path, mode) as (stack, botapi, llm):
        chat = ALLOWED_USER

        def to_chat(words: str) -> Any:
            return lambda m: m.chat_id == chat and words in (m.plain_text or "")

        # Plain words while the model misbehaves, and a command typed right after them.
        botapi.inject_message("what is running?", user_id=ALLOWED_USER, chat_id=chat)
        botapi.inject_message("/workers", user_id=ALLOWED_USER, chat_id=chat)
        answer = await botapi.wait_for(to_chat("Running now"), timeout=30)
        workers = await botapi.wait_for(to_chat("Workers"), timeout=30)
        if mode == "hang":  # the command did not wait for the hanging model call
            assert workers.at < answer.at

        # A job tells its plain report at once; its summary call (the output is long enough
        # for one) fails after it, and the breaker opens. The job ends once that call is over.
        botapi.inject_message("/exec seq 8001 8012", user_id=ALLOWED_USER, chat_id=chat)
        report = await botapi.wait_for_shown(
            lambda m: (
                m.chat_id == chat
                and "8012" in (m.plain_text or "")
                and "completed" in (m.plain_text or "")
            ),
            timeout=60,
        )
        assert "Output" in (report.plain_text or "")
        job_id = (report.plain_text or "").split()[1]
        await stack.runtime.client.get_workflow_handle(job_id).result()
        assert "Summary" not in (botapi.message(chat, report.message_id) or {}).get("text", "")

        # The breaker is open: plain words are answered by the router without calling the model.
        called = len(llm.requests)
        for words in ("what is running now?", "anything running?", "what is running?"):
            botapi.inject_message(words, user_id=ALLOWED_USER, chat_id=chat)
        await _wait_count(botapi, chat, "Running now", 4)
        assert len(llm.requests) == called

        texts = [m.plain_text or "" for m in botapi.messages_to(chat)]
        assert sum(NOTICE_WORDS in t for t in texts) == 1, texts
        assert_no_internals(botapi.sent + botapi.edits)


async def test_console_answers_a_command_while_the_model_hangs(
    dev_server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with outage_stack(dev_server, client, tmp_path, "hang") as (stack, _botapi, llm):
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        out = io.StringIO()
        stop = asyncio.Event()

        class Typed:
            async def next(self) -> str | None:
                return await lines.get()

        console = asyncio.create_task(run_console(stack.operator, stop, out, Typed()))
        try:
            lines.put_nowait("what is running?")
            await _wait_for(lambda: len(llm.requests) == 1)  # the model call hangs now
            lines.put_nowait("/workers")
            await _wait_for(lambda: "Running now" in out.getvalue(), timeout=30)
            screen = out.getvalue()
            assert screen.index("Workers") < screen.index("Running now")
            assert screen.count(NOTICE_WORDS) == 1
            assert not INTERNALS.search(screen), screen
            assert LLM_OUTAGE_NOTICE.split(",")[0] in screen
        finally:
            lines.put_nowait(None)
            await asyncio.wait_for(console, 30)


async def _wait_count(botapi: BotApiEmulator, chat: int, words: str, want: int) -> None:
    await _wait_for(
        lambda: sum(words in (m.plain_text or "") for m in botapi.messages_to(chat)) >= want,
        timeout=30,
    )


async def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
