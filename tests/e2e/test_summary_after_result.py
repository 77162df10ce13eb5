"""The result never waits for the optional model: a job's output is told as soon as its work step
ends, and the model's summary is edited into that same message afterwards (no second message,
no second phone notification). A model that is slow or hangs changes nothing but the summary —
through Telegram (Bot API emulator) and the console transport. A SIGKILL between the result and
its summary tells the result once and adds the summary once (or skips it, as the ledger says)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from bot.console import run_console
from core.domain.jobs.messages import SUMMARY_HEAD
from core.io.db import Database
from core.io.devserver import DevServer
from core.io.tables import ReportLedger
from hbo.runtime import open_runtime
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.chat_checks import INTERNALS, assert_no_internals
from tests.support.jobs import start_without_card
from tests.support.llm_server import Mode, ScriptedLLM, text
from tests.support.namespaces import new_namespace
from tests.support.roles import kill_role, role_env, spawn_role
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack, make_settings, running_stack

SUMMARY = "SUMMARY-WORDS: seq printed twelve numbers, all fine."
MODEL_DELAY = 2.0


def model(mode: Mode = "script") -> ScriptedLLM:
    """A working model that answers every call after MODEL_DELAY (an ordinary hosted model),
    or one that misbehaves as `mode` says."""
    if mode != "script":
        return ScriptedLLM(mode=mode)
    return ScriptedLLM([text(SUMMARY)], repeat_last=True, delay=MODEL_DELAY)


def llm_values(llm: ScriptedLLM, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "sk-test-not-real",
        "OPENAI_BASE_URL": llm.base_url,
        # Far longer than the test takes: the result must come without the model's timeout.
        "LLM_JOB_TIMEOUT_SECONDS": 60,
        "LLM_TIMEOUT_SECONDS": 60,
    }
    values.update(overrides)
    return values


@contextlib.asynccontextmanager
async def telegram_stack(
    dev_server: DevServer, admin: Client, data: Path, llm: ScriptedLLM, name: str
) -> AsyncIterator[tuple[Stack, BotApiEmulator]]:
    client = await new_namespace(dev_server.target, admin, name)
    async with BotApiEmulator(token=TEST_TOKEN) as botapi:
        settings = make_settings(
            data,
            dev_server.target,
            TELEGRAM_BASE_URL=botapi.base_url,
            TEMPORAL_NAMESPACE=client.namespace,
            **llm_values(llm),
        )
        async with running_stack(settings, client) as stack:
            try:
                yield stack, botapi
            finally:
                llm.release()  # a hanging call ends, so the workers stop at once


def result_of(words: str, chat: int = ALLOWED_USER) -> Callable[[SentMessage], bool]:
    """A message that shows the job's result (sent, or its card edited into it)."""

    def check(m: SentMessage) -> bool:
        shown = m.plain_text or ""
        return (
            m.chat_id == chat and words in shown and "completed" in shown and "plan:" not in shown
        )

    return check


async def summary_of(db: Database, job_id: str) -> str | None:
    async with db.session() as session:
        entry = await session.get(ReportLedger, job_id)
    return entry.summary if entry is not None else None


def job_id_in(message: SentMessage) -> str:
    return (message.plain_text or "").split()[1]


async def test_the_output_comes_first_and_the_summary_is_edited_into_it(
    dev_server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with (
        model() as llm,
        telegram_stack(dev_server, client, tmp_path, llm, "sum-slow") as (
            stack,
            botapi,
        ),
    ):
        botapi.inject_message("/exec seq 7001 7012", user_id=ALLOWED_USER)
        result = await botapi.wait_for_shown(result_of("7012"), timeout=60)
        # Told while the model was still thinking: it had not answered anything yet.
        assert llm.answered == 0 or llm.answered_at[0] > result.at
        assert SUMMARY_HEAD.split()[-1] not in (result.text or "")

        edited = await botapi.wait_for_edit(
            lambda m: "SUMMARY-WORDS" in (m.plain_text or ""), timeout=60
        )
        assert edited.message_id == result.message_id  # the same message, edited
        assert "7012" in (edited.plain_text or "")  # the output is still there
        assert edited.at >= llm.answered_at[0]
        job_id = job_id_in(result)
        await _until_async(lambda: _settled(stack.runtime.db, job_id), "the summary recorded")
        assert await summary_of(stack.runtime.db, job_id) == "added"

        # A short output needs no summary: told, and the model never asked.
        asked = len(llm.requests)
        botapi.inject_message("/exec echo short-one", user_id=ALLOWED_USER)
        await botapi.wait_for_shown(result_of("short-one"), timeout=60)
        botapi.inject_message("/workers", user_id=ALLOWED_USER)
        await botapi.wait_for(lambda m: "Workers" in (m.plain_text or ""), timeout=30)
        assert len(llm.requests) == asked

        # Never a second message for the summary, and one message for the result.
        assert not [m for m in botapi.sent if "SUMMARY-WORDS" in (m.plain_text or "")]
        assert len(botapi.results_shown(ALLOWED_USER, "7012")) == 1
        assert_no_internals(botapi.sent + botapi.edits)


async def test_a_hanging_model_holds_up_no_output(
    dev_server: DevServer, client: Client, tmp_path: Path
) -> None:
    async with (
        model("hang") as llm,
        telegram_stack(dev_server, client, tmp_path, llm, "sum-hang") as (_stack, botapi),
    ):
        # The first request after start: the model's breaker has not seen a failure yet.
        botapi.inject_message("/exec seq 7101 7112", user_id=ALLOWED_USER)
        result = await botapi.wait_for_shown(result_of("7112"), timeout=30)
        # The summary call is out and unanswered (LLM_JOB_TIMEOUT_SECONDS is 60): the output
        # did not wait for it.
        await _until(lambda: len(llm.requests) >= 1, "the summary call to reach the model")
        assert llm.answered == 0
        assert not [
            m for m in botapi.edits if m.message_id == result.message_id and m.at > result.at
        ]
        assert_no_internals(botapi.sent + botapi.edits)


async def test_the_console_shows_the_output_while_the_model_hangs(
    dev_server: DevServer, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = await new_namespace(dev_server.target, client, "sum-console")
    async with model("hang") as llm:
        settings = make_settings(
            tmp_path,
            dev_server.target,
            TELEGRAM_BOT_TOKEN="",
            TEMPORAL_NAMESPACE=namespace.namespace,
            **llm_values(llm),
        )
        async with running_stack(settings, namespace, bot=False) as stack:
            screen = io.StringIO()  # the console's own replies; the job's messages: stdout
            lines: asyncio.Queue[str | None] = asyncio.Queue()
            printed: list[str] = []

            class Typed:
                async def next(self) -> str | None:
                    return await lines.get()

            console = asyncio.create_task(run_console(stack.operator, stack.stop, screen, Typed()))
            try:
                lines.put_nowait("/exec seq 7201 7212")

                def told() -> bool:
                    printed.append(capsys.readouterr().out)
                    return "7212" in "".join(printed) and "completed" in "".join(printed)

                await _until(told, "the result printed", timeout=30)
                await _until(lambda: len(llm.requests) >= 1, "the summary call to reach the model")
                assert llm.answered == 0
                shown = "".join(printed)
                assert not INTERNALS.search(shown), shown
            finally:
                llm.release()
                lines.put_nowait(None)
                await asyncio.wait_for(console, 30)


async def test_the_console_gets_the_summary_as_a_follow_up(
    dev_server: DevServer, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A terminal cannot edit what it printed: the summary follows the result."""
    namespace = await new_namespace(dev_server.target, client, "sum-console-slow")
    async with model() as llm:
        settings = make_settings(
            tmp_path,
            dev_server.target,
            TELEGRAM_BOT_TOKEN="",
            TEMPORAL_NAMESPACE=namespace.namespace,
            **llm_values(llm),
        )
        async with running_stack(settings, namespace, bot=False) as stack:
            spec = stack.operator.planner.exec_job("seq 7301 7312", chat_id=ALLOWED_USER)
            await start_without_card(stack.operator, spec, "test")
            printed: list[str] = []

            def seen(words: str) -> Callable[[], bool]:
                def check() -> bool:
                    printed.append(capsys.readouterr().out)
                    return words in "".join(printed)

                return check

            await _until(seen("SUMMARY-WORDS"), "the summary printed", timeout=60)
            shown = "".join(printed)
            assert shown.index("7312") < shown.index("SUMMARY-WORDS")
            assert shown.count("· completed") == 1  # the result once; the summary alone after it
            await _until_async(lambda: _settled(stack.runtime.db, spec.job_id), "the record")
            assert await summary_of(stack.runtime.db, spec.job_id) == "added"


@pytest.mark.parametrize("moment", ["after the result", "during the summary edit"])
async def test_a_crash_between_result_and_summary_tells_the_result_once(
    dev_server: DevServer, client: Client, tmp_path: Path, moment: str
) -> None:
    namespace = await new_namespace(dev_server.target, client, "sum-crash")
    chat = 4301
    async with model() as llm, BotApiEmulator(token=TEST_TOKEN) as botapi:
        settings = make_settings(
            tmp_path,
            dev_server.target,
            TELEGRAM_BASE_URL=botapi.base_url,
            TEMPORAL_NAMESPACE=namespace.namespace,
            **llm_values(llm),
        )
        procs: list[subprocess.Popen[bytes]] = []

        def spawn_operator(log: str) -> None:
            env = role_env(settings)
            procs.append(spawn_role(["worker", "--queue", "operator"], env, tmp_path / log))

        # Execution and reporting (the model's caller) here; the job's workflow and its notify
        # activities in a process of their own, which is killed.
        async with (
            open_runtime(settings, namespace) as runtime,
            running_stack(settings, namespace, queues=("execution", "reporting"), bot=False),
        ):
            try:
                spawn_operator("operator1.log")
                spec = runtime.operator().planner.exec_job("seq 7401 7412", chat_id=chat)
                await start_without_card(runtime.operator(), spec, "test")
                await botapi.wait_for_shown(result_of("7412", chat), timeout=60)
                # The result is told and recorded (a kill before that is the result path's own
                # case: it may repeat the result, never lose it).
                await _until_async(lambda: _told(runtime.db, spec.job_id), "the result recorded")
                if moment == "during the summary edit":
                    # The edit reaches Telegram; its answer never reaches the dead sender.
                    botapi.hold_sends([chat], after_delivery=True)
                    await _until(lambda: botapi.held >= 1, "the summary edit to be taken", 60)
                kill_role(procs[-1])
                botapi.release_held(deliver=False)
                spawn_operator("operator2.log")
                await _until_async(
                    lambda: _settled(runtime.db, spec.job_id), "the summary recorded", 90
                )
                # The workflow is done once the summary is recorded and its activity returned.
                handle = namespace.get_workflow_handle(spec.job_id)
                await asyncio.wait_for(handle.result(), 60)
            finally:
                botapi.release_held(deliver=True)
                for proc in procs:
                    kill_role(proc, signal.SIGTERM)
            results = botapi.results_shown(chat, "7412")
            assert len(results) == 1, [m.short() for m in results.values()]
            outcome = await summary_of(runtime.db, spec.job_id)
            summaries = [
                m for m in [*botapi.sent, *botapi.edits] if "SUMMARY-WORDS" in (m.plain_text or "")
            ]
            assert not [m for m in summaries if m.method == "sendMessage"]  # never a 2nd message
            (shown_as,) = results
            final = botapi.message(chat, shown_as) or {}
            if outcome == "added":
                assert "SUMMARY-WORDS" in str(final.get("text"))
            else:
                assert outcome == "skipped"
                assert "SUMMARY-WORDS" not in str(final.get("text"))
            print(f"\ncrash {moment}: result once, summary {outcome}")


async def _told(db: Database, job_id: str) -> bool:
    async with db.session() as session:
        entry = await session.get(ReportLedger, job_id)
    return entry is not None and entry.last_reported_status == "completed"


async def _settled(db: Database, job_id: str) -> bool:
    return await summary_of(db, job_id) in ("added", "skipped")


async def _until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _until_async(check: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
