"""A long job's card goes live when every role is a process of its own, as deployed: the bot,
the workers (notify and the job workflow), and the execution worker in its secret-free child
process. The in-process stack shares one settings object and one client across roles; this
one shares nothing but Temporal, the database and the Bot API. The job is the fidelity
harness's own "live" job: its command must run inside the execution sandbox (bubblewrap shows
a command the system's paths and its chat's folder only), or no card ever goes live."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from temporalio.client import Client

from bench._fidelity.scenario import (
    LIVE_TICKS,
    place_task_script,
    sandbox_python,
    task_command,
)
from core.domain.ids import chat_folder
from core.domain.jobs.models import JobState
from core.io.devserver import DevServer
from core.io.settings import Settings
from hbo.runtime import open_runtime
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import wait_status
from tests.support.namespaces import new_namespace
from tests.support.roles import kill_role, role_env, spawn_role
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, make_settings

LIVE = {"LIVE_CARD_AFTER_SECONDS": "1", "LIVE_CARD_INTERVAL_SECONDS": "1"}


@pytest.fixture
async def namespace_client(dev_server: DevServer, client: Client) -> Client:
    return await new_namespace(dev_server.target, client, "live-card-roles")


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """An emulator of its own: the session's bot does not poll it."""
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        yield emulator


def _env(settings: Settings) -> dict[str, str]:
    return role_env(
        settings,
        TELEGRAM_ALLOWED_USER_IDS=str(ALLOWED_USER),
        TELEGRAM_POLL_TIMEOUT="1",
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        **LIVE,
    )


def _tails(folder: Path) -> dict[str, str]:
    """The end of each role's log, for a failure's message."""
    return {p.name: p.read_text()[-2000:] for p in folder.glob("*.log")}


async def _until(condition: Callable[[], bool], what: str, timeout: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; logs: {_tails(logs)}")
        await asyncio.sleep(0.1)


async def test_a_long_jobs_card_goes_live_with_every_role_a_process(
    namespace_client: Client, api: BotApiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        namespace_client.service_client.config.target_host,
        TELEGRAM_BASE_URL=api.base_url,
        TEMPORAL_NAMESPACE=namespace_client.namespace,
    )
    chat = ALLOWED_USER
    async with open_runtime(settings, namespace_client):  # the database, as a deployment has it
        pass
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # `hbo worker --queue execution` runs its worker in the isolated child process.
        procs.append(
            spawn_role(["worker", "--queue", "execution"], _env(settings), tmp_path / "exec.log")
        )
        procs.append(
            spawn_role(
                ["worker", "--queue", "operator", "--queue", "reporting"],
                _env(settings),
                tmp_path / "operator.log",
            )
        )
        procs.append(spawn_role(["bot"], _env(settings), tmp_path / "bot.log"))
        # The fidelity harness's "live" job, as it asks for it: a line every half second for
        # LIVE_TICKS × 0.5 s, from a script in the chat's folder (all a sandboxed command sees).
        place_task_script(settings.workspaces_dir / chat_folder(chat))
        command = task_command(sandbox_python(), "live", 1)
        api.inject_message(f"/exec {command}", user_id=ALLOWED_USER, chat_id=chat)
        await _until(
            lambda: any("started" in (m.plain_text or "") for m in api.messages_to(chat)),
            "the job's card",
            60,
            tmp_path,
        )
        card = next(m for m in api.messages_to(chat) if "started" in (m.plain_text or ""))
        job_id = (card.plain_text or "").split()[1]
        await wait_status(namespace_client, job_id, JobState.completed, timeout=60)
    finally:
        for proc in procs:
            kill_role(proc, signal.SIGTERM)
    edits = [e for e in api.edits if e.chat_id == chat and e.message_id == card.message_id]
    live = [e.plain_text or "" for e in edits if "running for" in (e.plain_text or "")]
    assert len(live) >= 2, ([e.plain_text for e in edits], _tails(tmp_path))
    assert all(f"of {LIVE_TICKS}" in text for text in live)  # the output's last lines
    assert all(re.search(r"running for \d+", text) for text in live)  # the elapsed time
