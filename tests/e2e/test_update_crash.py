"""A chat message the bot has taken but not finished with survives a SIGKILL of the bot: the
update stays unconfirmed at Telegram, the restarted bot gets it again, and the job it asks for
runs once. Killed before the job started (its card's send hangs), the job starts after the
restart; killed after it started but before the update was confirmed, the second handling
starts no second job (the card may be posted once more)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from temporalio.client import Client

from core.io.devserver import DevServer
from core.io.settings import Settings
from core.io.tables import ReportLedger
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.jobs import wait_closed
from tests.support.namespaces import new_namespace
from tests.support.roles import kill_role, role_env, spawn_role
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, make_settings, running_stack
from tests.support.visibility import wait_visible


@pytest.fixture
async def namespace_client(dev_server: DevServer, client: Client) -> Client:
    return await new_namespace(dev_server.target, client, "crash-update")


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """An emulator of its own: the session's bot does not poll it."""
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        yield emulator


def _spawn_bot(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = role_env(
        settings,
        TELEGRAM_ALLOWED_USER_IDS=str(ALLOWED_USER),
        TELEGRAM_POLL_TIMEOUT="1",
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
    )
    return spawn_role(["bot"], env, log)


async def _until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _pending(api: BotApiEmulator) -> set[int]:
    return {u["update_id"] for u in api.pending_updates}


def _cards(api: BotApiEmulator, chat: int) -> list[SentMessage]:
    return [m for m in api.sent if m.chat_id == chat and "started" in (m.plain_text or "")]


def _results(api: BotApiEmulator, chat: int, marker: str) -> list[SentMessage]:
    """Distinct messages showing the job's output, sent or edited into place."""
    return list(api.results_shown(chat, marker, "completed").values())


async def _jobs_of(client: Client, chat: int, job_id: str) -> int:
    await wait_visible(client, f"WorkflowId = '{job_id}'")
    return (await client.count_workflows(f"ReportChatId = {chat}")).count


def _settings(api: BotApiEmulator, client: Client, tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        client.service_client.config.target_host,
        TELEGRAM_BASE_URL=api.base_url,
        TEMPORAL_NAMESPACE=client.namespace,
    )


async def test_a_bot_killed_before_the_job_started_starts_it_after_the_restart(
    namespace_client: Client, api: BotApiEmulator, tmp_path: Path
) -> None:
    settings = _settings(api, namespace_client, tmp_path)
    chat, marker = ALLOWED_USER, "ack-before-start"
    procs: list[subprocess.Popen[bytes]] = []
    async with running_stack(settings, namespace_client, bot=False):
        try:
            api.hold_sends([chat])
            procs.append(_spawn_bot(settings, tmp_path / "bot1.log"))
            update = api.inject_message(f"/exec echo {marker}", user_id=ALLOWED_USER)
            await _until(lambda: api.held >= 1, "the card's send to hang", 30)
            polls = len(api.calls_to("getUpdates"))
            await _until(lambda: len(api.calls_to("getUpdates")) >= polls + 2, "two polls", 10)
            assert update in _pending(api), "confirmed while its handling hangs"

            kill_role(procs[-1])
            api.release_held(deliver=False)  # the dead bot's card never arrives
            assert not _cards(api, chat)

            restarted = time.monotonic()
            procs.append(_spawn_bot(settings, tmp_path / "bot2.log"))
            await _until(lambda: bool(_results(api, chat, marker)), "the result", 60)
            recovery = time.monotonic() - restarted
            await _until(lambda: update not in _pending(api), "the update to be confirmed", 10)
            [card] = _cards(api, chat)
            job_id = card.plain_text.split()[1]
            assert await _jobs_of(namespace_client, chat, job_id) == 1
            assert len(_results(api, chat, marker)) == 1
            print(f"\nbot killed mid-handling: job {job_id} ran once, {recovery:.1f} s to result")
        finally:
            api.release_held(deliver=True)
            api.clear_faults()
            for proc in procs:
                kill_role(proc, signal.SIGTERM)


async def test_a_bot_killed_after_the_job_started_starts_no_second_job(
    namespace_client: Client, api: BotApiEmulator, tmp_path: Path
) -> None:
    settings = _settings(api, namespace_client, tmp_path)
    chat, marker = ALLOWED_USER, "ack-after-start"
    procs: list[subprocess.Popen[bytes]] = []
    async with running_stack(settings, namespace_client, bot=False) as stack:
        try:
            api.hold_sends([chat])
            procs.append(_spawn_bot(settings, tmp_path / "bot1.log"))
            update = api.inject_message(f"/exec echo {marker}", user_id=ALLOWED_USER)
            await _until(lambda: api.held >= 1, "the card's send to hang", 30)
            # The confirmation (the next getUpdates offset) never gets through.
            api.fail_next("getUpdates", status=502, count=10_000)
            api.release_held(deliver=True)
            await _until(lambda: bool(_results(api, chat, marker)), "the result", 60)
            [card] = _cards(api, chat)
            job_id = card.plain_text.split()[1]
            assert update in _pending(api), "the job ran, its update is still unconfirmed"

            kill_role(procs[-1])
            api.clear_faults()
            restarted = time.monotonic()
            procs.append(_spawn_bot(settings, tmp_path / "bot2.log"))
            await _until(lambda: update not in _pending(api), "the update to be confirmed", 30)
            handled_again = time.monotonic() - restarted
            cards = _cards(api, chat)
            # Handled before the restart (its job exists): not answered again, no second card.
            assert [c.plain_text.split()[1] for c in cards] == [job_id]
            assert await _jobs_of(namespace_client, chat, job_id) == 1
            # The job has ended, and it waited for each of its sends; the restarted bot
            # confirmed the update only after handling it: a duplicate would be here by now.
            await wait_closed(namespace_client, job_id)
            assert len(_results(api, chat, marker)) == 1
            async with stack.runtime.db.session() as session:
                entry = await session.get(ReportLedger, job_id)
            # The card posted again does not wind the ledger back (the heartbeat would repeat).
            assert entry is not None and entry.last_reported_status == "completed"
            print(
                f"\nbot killed before confirming: handled again in {handled_again:.1f} s, "
                f"{len(cards)} cards, 1 job"
            )
        finally:
            api.release_held(deliver=True)
            api.clear_faults()
            for proc in procs:
                kill_role(proc, signal.SIGTERM)
