"""Status answers come from real workflows on the dev server: /running, /failed, /done and their
plain-English phrasings, scoped to the asking chat, with exact counts and a visible limit."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client

from bot.commands import status as status_module
from bot.types import Incoming
from core.jobs.models import JobSpec, JobState, NotifyPolicy
from tests.support.jobs import wait_status
from tests.support.stack import ALLOWED_USER, Stack


def spec(stack: Stack, chat: int, command: str, attention_seconds: int = 3600) -> JobSpec:
    job = stack.operator.planner.plan(
        goal=f"status test: {command}",
        steps=[("execution", {"command": command})],
        chat_id=chat,
        report=False,
        notify=NotifyPolicy.silent,
    )
    return job.model_copy(update={"needs_attention_timeout_seconds": attention_seconds})


async def ask(stack: Stack, chat: int, text: str) -> str:
    replies = await stack.operator.handle(Incoming(user_id=ALLOWED_USER, chat_id=chat, text=text))
    return "\n".join(r.text for r in replies)


async def visible(client: Client, query: str, want: int, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = -1
    while loop.time() < deadline:
        count = (await client.count_workflows(query)).count
        if count == want:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{query}: {count} != {want}")


async def test_status_answers_come_from_temporal(
    stack: Stack, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = 800_000 + uuid.uuid4().int % 100_000
    jobs = stack.operator.jobs
    done = [spec(stack, chat, "true") for _ in range(3)]
    running = [spec(stack, chat, "sleep 60") for _ in range(2)]
    waiting = spec(stack, chat, "no-such-command-hbo")
    failed = spec(stack, chat, "no-such-command-hbo", attention_seconds=1)
    terminated = spec(stack, chat, "sleep 60")
    everything = [*done, *running, waiting, failed, terminated]
    await asyncio.gather(*(jobs.start(s) for s in everything))
    try:
        await wait_status(client, waiting.job_id, JobState.needs_attention)
        await wait_status(client, failed.job_id, JobState.failed, timeout=30)
        await client.get_workflow_handle(terminated.job_id).terminate("test")
        scope = f"ReportChatId = {chat}"
        await visible(client, f"{scope} AND JobStatus = 'completed'", 3)
        await visible(client, f"{scope} AND JobStatus = 'failed'", 1)
        await visible(client, f"{scope} AND ExecutionStatus = 'Terminated'", 1)
        for job in running:
            await wait_status(client, job.job_id, JobState.running)

        text = await ask(stack, chat, "/running")
        assert "Running now (1 waiting for a decision)</b>: 3 jobs" in text
        assert all(j.job_id in text for j in [*running, waiting])
        assert "step 1/1 execution" in text  # live, from the status query

        text = await ask(stack, chat, "what failed today?")
        assert "Failed today</b>: 2 jobs" in text
        assert failed.job_id in text and terminated.job_id in text
        assert "Waiting for a decision" in text and waiting.job_id in text

        text = await ask(stack, chat, "/done")
        assert "Finished today</b>: 3 jobs" in text
        assert all(j.job_id in text for j in done)
        assert "none" in await ask(stack, chat, "what finished yesterday")
        assert "Finished in the last 7 days</b>: 3 jobs" in await ask(stack, chat, "/done week")
        assert "unknown period" in await ask(stack, chat, "/failed lastyear")

        # Another chat sees none of it.
        other = chat + 1
        assert "Running now</b>: none" in await ask(stack, other, "/running")
        assert "none" in await ask(stack, other, "/done week")

        # A list past its limit says how many there are and that it stops.
        monkeypatch.setattr(status_module, "LIST_LIMIT", 2)
        text = await ask(stack, chat, "/done")
        assert "3 jobs (showing the newest 2; the list stops at 2)" in text
    finally:
        for job in [*running, waiting]:
            try:
                await client.get_workflow_handle(job.job_id).cancel()
            except Exception:
                pass


async def test_unknown_words_get_the_help_text(stack: Stack) -> None:
    text = await ask(stack, 1003, "make me a sandwich")
    assert "did not recognise" in text and "/running" in text and "/exec" in text
