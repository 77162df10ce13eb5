"""The vertical slice: a Telegram message becomes a durable job whose result comes back."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from core.ids import workspace_name
from tests.support.botapi import BotApiEmulator
from tests.support.stack import ALLOWED_USER, STRANGER, Stack


async def _poll_count(client: Client, query: str, want: int, timeout: float = 10.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = -1
    while loop.time() < deadline:
        count = (await client.count_workflows(query)).count
        if count == want:
            return count
        await asyncio.sleep(0.1)
    return count


async def test_exec_runs_as_a_job_and_the_result_comes_back(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = ALLOWED_USER
    botapi.inject_message("/exec echo hi-from-e2e", user_id=ALLOWED_USER, chat_id=chat)

    card = await botapi.wait_for(lambda m: m.chat_id == chat and "started" in m.plain_text)
    job_id = card.plain_text.split()[1]
    assert job_id.startswith("job-")
    assert "execution" in card.plain_text and f"cancel:{job_id}" in card.callback_data

    result = await botapi.wait_for(
        lambda m: m.chat_id == chat and job_id in m.plain_text and "completed" in m.plain_text,
        timeout=20,
    )
    assert "hi-from-e2e" in result.plain_text
    assert result.parse_mode == "HTML"

    # Temporal holds the job, filterable by the custom search attributes.
    assert (
        await _poll_count(
            client,
            f"WorkflowId = '{job_id}' AND JobStatus = 'completed' "
            f"AND WorkerName = 'execution' AND ReportChatId = {chat}",
            1,
        )
        == 1
    )
    handle = client.get_workflow_handle(job_id)
    desc = await handle.describe()
    assert (await desc.memo())["goal"] == "run: echo hi-from-e2e"

    # The job's push and the operator's card were the only messages: nothing repeated.
    about_job = [m for m in botapi.messages_to(chat) if job_id in m.plain_text]
    assert len(about_job) == 2, [m.plain_text for m in about_job]

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
    botapi.inject_callback("cancel:job-abcdef", user_id=STRANGER, chat_id=STRANGER)
    await botapi.wait_for_call("answerCallbackQuery", lambda c: True)
    await asyncio.sleep(1.0)
    assert len(botapi.messages_to(STRANGER)) == 1
    assert (await client.count_workflows(f"ReportChatId = {STRANGER}")).count == 0
    audit = await stack.runtime.audit.recent(10)
    assert sum(1 for entry in audit if entry.user_id == STRANGER and entry.action == "refused") == 3


async def test_research_writes_notes_in_the_job_workspace(
    stack: Stack, botapi: BotApiEmulator
) -> None:
    chat = 1002
    botapi.inject_message(
        "/research what does https://127.0.0.1:9/nothing say", user_id=1002, chat_id=chat
    )
    card = await botapi.wait_for(lambda m: m.chat_id == chat and "started" in m.plain_text)
    job_id = card.plain_text.split()[1]
    done = await botapi.wait_for(
        lambda m: m.chat_id == chat and job_id in m.plain_text and "completed" in m.plain_text,
        timeout=30,
    )
    assert "research" in done.plain_text
    workspace = stack.settings.workspaces_dir / workspace_name(chat, job_id)
    notes = (workspace / "notes.md").read_text()
    assert "could not fetch" in notes and "No LLM is configured" in notes
    assert (workspace / "notes.json").is_file() and (workspace / "report.md").is_file()
