"""A command addressed to another bot (`/exec@other_bot …`) is not ours: in a group it is
ignored — not run, not answered, not refused; in a private chat the person is told it named
another bot and nothing runs. `/exec@<this bot>` (any case) runs as `/exec`. Through the real
Telegram transport: the bot's own name comes from the emulator's getMe (`test_bot`).

"Nothing happened" is proven by a later command in the same chat: a chat's commands are
handled in order, so once the later one is answered the earlier one was handled."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client

from core.io.devserver import DevServer
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import assert_no_job_started
from tests.support.stack import ALLOWED_USER, Stack, own_deployment

GROUP = -(10**12) - 424_242
CLOSED_GROUP = -(10**12) - 424_243


@dataclass
class Deployment:
    stack: Stack
    botapi: BotApiEmulator
    client: Client


@pytest.fixture(scope="module")
async def deployment(
    dev_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    async with own_deployment(
        dev_server.target,
        client,
        tmp_path_factory.mktemp("other-bots"),
        "other-bots",
        TELEGRAM_ALLOWED_CHAT_IDS=str(GROUP),
    ) as (stack, botapi, namespace_client):
        yield Deployment(stack, botapi, namespace_client)


def texts(botapi: BotApiEmulator, chat: int) -> list[str]:
    return [m.plain_text or "" for m in botapi.shown(chat)]


async def test_in_a_group_another_bots_command_is_ignored_and_ours_runs(
    deployment: Deployment, tmp_path: Path
) -> None:
    botapi = deployment.botapi
    assert botapi.bot_username == "test_bot"
    touched = tmp_path / "ran-for-another-bot"
    tag = uuid.uuid4().hex[:8]
    botapi.inject_message(
        f"/exec@other_bot touch {touched}", user_id=ALLOWED_USER, chat_id=GROUP, chat_type="group"
    )
    botapi.inject_message(
        f"/exec@Test_Bot echo ours-{tag}", user_id=ALLOWED_USER, chat_id=GROUP, chat_type="group"
    )
    card = await botapi.wait_for(
        lambda m: m.chat_id == GROUP and "started" in (m.plain_text or "") and tag in m.text
    )
    job_id = (card.plain_text or "").split()[1]
    await botapi.wait_for_shown(
        lambda m: (
            m.chat_id == GROUP
            and f"ours-{tag}" in (m.plain_text or "")
            and "completed" in (m.plain_text or "")
        ),
        timeout=20,
    )
    shown = texts(botapi, GROUP)
    assert all(job_id in text for text in shown), shown  # only our job's card, nothing else
    assert not touched.exists()
    jobs = await deployment.client.count_workflows(f"ReportChatId = {GROUP}")
    assert jobs.count == 1, jobs


async def test_in_a_group_that_is_not_allowed_another_bots_command_is_not_refused(
    deployment: Deployment,
) -> None:
    botapi, stack = deployment.botapi, deployment.stack
    botapi.inject_message(
        "/exec@other_bot uptime", user_id=ALLOWED_USER, chat_id=CLOSED_GROUP, chat_type="group"
    )
    botapi.inject_message("/status", user_id=ALLOWED_USER, chat_id=CLOSED_GROUP, chat_type="group")
    refusal = await botapi.wait_for(lambda m: m.chat_id == CLOSED_GROUP)
    assert "This group is not allowed" in (refusal.plain_text or "")
    audit = [e for e in await stack.runtime.audit.recent(50) if e.chat_id == CLOSED_GROUP]
    assert [e.detail for e in audit] == ["/status"], [e.detail for e in audit]
    await assert_no_job_started(deployment.client, stack.operator, CLOSED_GROUP)


async def test_in_a_private_chat_the_person_is_told_and_nothing_runs(
    deployment: Deployment, tmp_path: Path
) -> None:
    botapi, stack = deployment.botapi, deployment.stack
    chat = ALLOWED_USER
    touched = tmp_path / "ran-for-another-bot"
    botapi.inject_message(f"/exec@other_bot touch {touched}", user_id=ALLOWED_USER, chat_id=chat)
    told = await botapi.wait_for(
        lambda m: m.chat_id == chat and "other_bot" in (m.plain_text or "")
    )
    assert "addressed to @other_bot, not to me (I am @test_bot)" in (told.plain_text or "")
    assert "nothing was done" in (told.plain_text or "")
    await assert_no_job_started(deployment.client, stack.operator, chat)
    assert not touched.exists()
