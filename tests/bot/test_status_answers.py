"""Status answers come from real workflows on the dev server: /running, /failed, /done and their
plain-English phrasings, scoped to the asking chat, with exact counts and a visible limit."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from temporalio.client import Client

from bot.commands import status as status_module
from bot.types import Incoming
from core.domain.jobs.models import JobSpec, JobState, NotifyPolicy
from core.domain.render import STATE_ICONS
from tests.support.jobs import wait_status
from tests.support.stack import ALLOWED_USER, Stack
from tests.support.visibility import wait_visible


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


AGE = re.compile(r"(?<= · )[^·\n]+ ago$", re.MULTILINE)


def sections(text: str) -> list[tuple[str, set[str]]]:
    """An answer as (title line, its job entries) per section; each entry is the job's line and
    its goal line, with only its age ("45 s ago", "3 h 20 min ago") replaced by AGE. Entries
    are a set: jobs started together have no order the test can know."""
    out = []
    for section in AGE.sub("AGE", text).split("\n\n"):
        head, *lines = section.split("\n")
        entries = {f"{line}\n{goal}" for line, goal in zip(lines[::2], lines[1::2], strict=True)}
        out.append((head, entries))
    return out


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
        await wait_visible(client, f"{scope} AND JobStatus = 'completed'", 3)
        await wait_visible(client, f"{scope} AND JobStatus = 'failed'", 1)
        await wait_visible(client, f"{scope} AND ExecutionStatus = 'Terminated'", 1)
        for job in running:
            await wait_status(client, job.job_id, JobState.running)

        def entry(job: JobSpec, state: str, live: str = "") -> str:
            command = job.steps[0].params["command"]
            return (
                f"{STATE_ICONS[state]} <code>{job.job_id}</code> {state.replace('_', ' ')} · "
                f"execution{live} · AGE\n   status test: {command}"
            )

        live = " · step 1/1 execution"  # from each running job's status query
        assert sections(await ask(stack, chat, "/running")) == [
            (
                "<b>Running now (1 waiting for a decision)</b>: 3 jobs",
                {entry(j, "running", live) for j in running}
                | {entry(waiting, "needs_attention", live)},
            )
        ]
        assert sections(await ask(stack, chat, "what failed today?")) == [
            (
                "<b>Failed today</b>: 2 jobs",
                # Terminated from outside, the job recorded no end: shown as Temporal closed it.
                {entry(failed, "failed"), entry(terminated, "failed")},
            ),
            (
                "<b>Waiting for a decision (retry / reroute / cancel)</b>: 1 job",
                {entry(waiting, "needs_attention")},
            ),
        ]
        finished = {entry(j, "completed") for j in done}
        assert sections(await ask(stack, chat, "/done")) == [
            ("<b>Finished today</b>: 3 jobs", finished)
        ]
        assert await ask(stack, chat, "what finished yesterday") == (
            "<b>Finished yesterday</b>: none."
        )
        assert sections(await ask(stack, chat, "/done week")) == [
            ("<b>Finished in the last 7 days</b>: 3 jobs", finished)
        ]
        assert await ask(stack, chat, "/failed lastyear") == (
            "⚠️ unknown period 'lastyear': use today, yesterday or week. Example: /failed yesterday"
        )

        # Another chat sees none of it.
        other = chat + 1
        assert await ask(stack, other, "/running") == "<b>Running now</b>: none."
        assert await ask(stack, other, "/done week") == "<b>Finished in the last 7 days</b>: none."

        # A list past its limit says how many there are and that it stops.
        monkeypatch.setattr(status_module, "LIST_LIMIT", 2)
        ((head, shown),) = sections(await ask(stack, chat, "/done"))
        assert head == "<b>Finished today</b>: 3 jobs (showing the newest 2; the list stops at 2)"
        assert len(shown) == 2 and shown < finished
    finally:
        for job in [*running, waiting]:
            try:
                await client.get_workflow_handle(job.job_id).cancel()
            except Exception:
                pass


async def test_unknown_words_get_the_help_text(stack: Stack) -> None:
    text = await ask(stack, 1003, "make me a sandwich")
    assert "did not recognise" in text and "/running" in text and "/exec" in text
