"""The vertical slice: a Telegram message becomes a durable job whose result comes back."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from tests.support.botapi import BotApiEmulator
from tests.support.jobs import assert_no_job_started
from tests.support.stack import ALLOWED_USER, STRANGER, Stack
from tests.support.visibility import wait_visible


async def test_exec_runs_as_a_job_and_the_result_comes_back(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = ALLOWED_USER
    botapi.inject_message("/exec echo hi-from-e2e", user_id=ALLOWED_USER, chat_id=chat)

    card = await botapi.wait_for(lambda m: m.chat_id == chat and "started" in m.plain_text)
    job_id = card.plain_text.split()[1]
    assert job_id.startswith("job-")
    assert "execution" in card.plain_text and f"cancel:{job_id}" in card.callback_data

    result = await botapi.wait_for_shown(
        lambda m: m.chat_id == chat and job_id in m.plain_text and "completed" in m.plain_text,
        timeout=20,
    )
    assert "hi-from-e2e" in result.plain_text
    assert result.parse_mode == "HTML"

    # Temporal holds the job, filterable by the custom search attributes.
    await wait_visible(
        client,
        f"WorkflowId = '{job_id}' AND JobStatus = 'completed' "
        f"AND WorkerName = 'execution' AND ReportChatId = {chat}",
    )
    handle = client.get_workflow_handle(job_id)
    desc = await handle.describe()
    assert (await desc.memo())["goal"] == "run: echo hi-from-e2e"

    # A fast job is one message: its card, edited into the result. Nothing repeated.
    about_job = [m for m in botapi.messages_to(chat) if job_id in m.plain_text]
    assert [m.message_id for m in about_job] == [card.message_id], [m.plain_text for m in about_job]
    assert result.message_id == card.message_id

    # /job shows it from Temporal; /jobs lists it.
    botapi.inject_message(f"/job {job_id}", user_id=ALLOWED_USER, chat_id=chat)
    detail = await botapi.wait_for(
        lambda m: m.chat_id == chat and job_id in m.plain_text and "step" in m.plain_text
    )
    assert "completed" in detail.plain_text
    botapi.inject_message("/jobs", user_id=ALLOWED_USER, chat_id=chat)
    listing = await botapi.wait_for(lambda m: m.chat_id == chat and "Recent jobs" in m.plain_text)
    assert job_id in listing.plain_text


async def test_a_stranger_is_refused_and_nothing_starts(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    botapi.inject_message("/exec touch /tmp/pwned", user_id=STRANGER, chat_id=STRANGER)
    refusal = await botapi.wait_for(lambda m: m.chat_id == STRANGER)
    assert "private" in refusal.plain_text and str(STRANGER) in refusal.plain_text

    # A second attempt is not answered again (no spam), and still starts nothing.
    botapi.inject_message("/research anything", user_id=STRANGER, chat_id=STRANGER)
    press = botapi.inject_callback("cancel:job-abcdef", user_id=STRANGER, chat_id=STRANGER)
    await botapi.wait_for_answer_to(press)
    # All three were handled once all three are in the audit log; only then count messages.
    assert await _refusals_of(stack, STRANGER, want=3) == 3
    assert len(botapi.messages_to(STRANGER)) == 1
    await assert_no_job_started(client, stack.operator, STRANGER)


async def _refusals_of(stack: Stack, user: int, want: int, timeout: float = 10.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = -1
    while loop.time() < deadline:
        audit = await stack.runtime.audit.recent(50)
        count = sum(1 for entry in audit if entry.user_id == user and entry.action == "refused")
        if count >= want:
            return count
        await asyncio.sleep(0.1)
    return count
