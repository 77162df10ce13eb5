"""A crash in the middle of a send loses nothing: the notify worker (and, separately, the whole
stack) is SIGKILLed while jobs' result sends sit between their ledger claim and its confirm,
under injected 429/502 faults; after a restart every result reaches its chat exactly once, with
its output. And a crash after Telegram took a message but before its sender learnt it repeats
that message at most once (at-least-once, never lost)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from core.domain.jobs.models import JobSpec
from core.io.db import Database
from core.io.devserver import DevServer
from core.io.settings import Settings
from core.io.tables import ReportLedger
from hbo.runtime import open_runtime
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.jobs import start_without_card
from tests.support.namespaces import new_namespace
from tests.support.roles import kill_role, role_env, spawn_role
from tests.support.stack import make_settings, running_stack

CHATS = (4101, 4102, 4103)
JOBS_PER_CHAT = 4


@pytest.fixture
async def namespace_client(dev_server: DevServer, client: Client) -> Client:
    return await new_namespace(dev_server.target, client, "crash-send")


def _spawn_worker(settings: Settings, queues: list[str], log: Path) -> subprocess.Popen[bytes]:
    args = [arg for queue in queues for arg in ("--queue", queue)]
    return spawn_role(["worker", *args], role_env(settings), log)


async def _claims_held(db: Database) -> int:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).where(ReportLedger.claim_owner.is_not(None))
        )
    return int(count or 0)


async def _poll(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _results(botapi: BotApiEmulator, spec: JobSpec) -> list[SentMessage]:
    """Distinct messages showing this job's result (its output), sent or edited into place."""
    marker = spec.goal.split()[-1]
    return list(botapi.results_shown(spec.report_chat_id, spec.job_id, marker).values())


@asynccontextmanager
async def _in_process(settings: Settings, client: Client, kill: str) -> AsyncIterator[None]:
    """What runs in the test process: execution and reporting when only the notify worker
    is killed; nothing but a client when the whole stack is."""
    if kill == "operator worker":
        async with running_stack(settings, client, queues=("execution", "reporting"), bot=False):
            yield
    else:
        yield


@pytest.mark.parametrize("kill", ["operator worker", "whole stack"])
async def test_a_crash_between_claim_and_confirm_loses_no_result(
    namespace_client: Client, botapi: BotApiEmulator, tmp_path: Path, kill: str
) -> None:
    settings = make_settings(
        tmp_path,
        namespace_client.service_client.config.target_host,
        TELEGRAM_BASE_URL=botapi.base_url,
        TEMPORAL_NAMESPACE=namespace_client.namespace,
    )
    queues = ["operator"] if kill == "operator worker" else []  # [] = every queue
    procs: list[subprocess.Popen[bytes]] = []
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(open_runtime(settings, namespace_client))
        await stack.enter_async_context(_in_process(settings, namespace_client, kill))
        operator = runtime.operator()
        try:
            botapi.set_fault_rate(
                0.3,
                statuses=(429, 429, 502),
                methods=("sendMessage", "editMessageText"),
                seed=11,
                retry_after=1,
            )
            botapi.hold_sends(CHATS)
            procs.append(_spawn_worker(settings, queues, tmp_path / "worker1.log"))
            specs = [
                operator.planner.exec_job(f"echo crash-{chat}-{i}", chat_id=chat)
                for chat in CHATS
                for i in range(JOBS_PER_CHAT)
            ]
            for spec in specs:
                await start_without_card(operator, spec, "test")

            # Every result is claimed, and one send per chat is on the wire, unanswered.
            await _poll(
                lambda: _claim_count_is(runtime.db, len(specs)),
                60,
                "every result send to hold its claim",
            )
            await _poll(_async(lambda: botapi.held >= len(CHATS)), 30, "a send per chat held")
            kill_role(procs[-1])
            botapi.release_held(deliver=False)  # the dead sender's requests never arrive
            assert not any(_results(botapi, s) for s in specs), "nothing was delivered yet"
            assert await _claims_held(runtime.db) == len(specs)  # claimed, never confirmed

            restarted = time.monotonic()
            procs.append(_spawn_worker(settings, queues, tmp_path / "worker2.log"))
            await _poll(
                _async(lambda: all(_results(botapi, s) for s in specs)),
                90,
                "every result after the restart",
            )
            recovery = time.monotonic() - restarted
            await asyncio.sleep(1.0)  # give a duplicate the chance to show up
            for spec in specs:
                results = _results(botapi, spec)
                assert len(results) == 1, f"{spec.job_id}: {[m.short() for m in results]}"
                assert f"crash-{spec.report_chat_id}" in (results[0].plain_text or "")
            print(f"\n{kill} killed mid-send: {len(specs)} results, each once, {recovery:.1f} s")
        finally:
            botapi.release_held(deliver=True)
            botapi.clear_faults()
            for proc in procs:
                kill_role(proc, signal.SIGTERM)


async def test_a_crash_after_telegram_took_the_message_repeats_it_at_most_once(
    namespace_client: Client, botapi: BotApiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        namespace_client.service_client.config.target_host,
        TELEGRAM_BASE_URL=botapi.base_url,
        TEMPORAL_NAMESPACE=namespace_client.namespace,
    )
    chat = 4201
    procs: list[subprocess.Popen[bytes]] = []
    async with running_stack(
        settings, namespace_client, queues=("execution", "reporting"), bot=False
    ) as running:
        try:
            botapi.hold_sends([chat], after_delivery=True)
            procs.append(_spawn_worker(settings, ["operator"], tmp_path / "worker1.log"))
            spec = running.operator.planner.exec_job("echo taken-once", chat_id=chat)
            await start_without_card(running.operator, spec, "test")
            await _poll(_async(lambda: botapi.held >= 1), 60, "the send to be taken")
            assert len(_results(botapi, spec)) == 1  # Telegram has it; the sender never heard
            kill_role(procs[-1])
            botapi.release_held(deliver=False)
            procs.append(_spawn_worker(settings, ["operator"], tmp_path / "worker2.log"))
            await _poll(
                lambda: _ledger_shows(running.runtime.db, spec.job_id, "completed"),
                60,
                "the ledger to record the result told",
            )
            assert 1 <= len(_results(botapi, spec)) <= 2  # repeated at worst, never lost
        finally:
            botapi.release_held(deliver=True)
            for proc in procs:
                kill_role(proc, signal.SIGTERM)


async def _claim_count_is(db: Database, count: int) -> bool:
    return await _claims_held(db) >= count


async def _ledger_shows(db: Database, job_id: str, status: str) -> bool:
    async with db.session() as session:
        entry = await session.get(ReportLedger, job_id)
    return entry is not None and entry.last_reported_status == status


def _async(check: object) -> object:
    async def run() -> bool:
        return bool(check())  # type: ignore[operator]

    return run
