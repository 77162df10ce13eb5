"""The boundaries between chats that exist today, each pinned by a test that fails when it
breaks: the group gate (an allowed person in a group that is not allowed gets nothing), and job
ownership (one chat's job cannot be seen or acted on from another chat — commands, buttons and
the LLM intake's job tools all answer "no job … in this chat" and leave the job as it was)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from bot.types import Incoming
from core.domain.jobs.models import JobState
from core.domain.render import html_to_plain
from tests.support.jobs import assert_no_job_started, fast_retries, wait_status
from tests.support.llm_server import ScriptedLLM, text, tool_calls
from tests.support.stack import ALLOWED_USER, Stack, make_settings


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLM]:
    async with ScriptedLLM() as server:
        yield server


def fresh_chat(group: bool = False) -> int:
    chat = 800_000 + uuid.uuid4().int % 100_000
    return -(10**12) - chat if group else chat


def plain(replies: list) -> str:  # type: ignore[type-arg]
    return "\n".join(html_to_plain(r.text) for r in replies)


async def test_an_allowed_person_in_a_group_that_is_not_allowed_gets_nothing(
    stack: Stack, client: Client, tmp_path: Path
) -> None:
    allowed_group, other_group = fresh_chat(group=True), fresh_chat(group=True)
    settings = make_settings(
        stack.settings.data_dir,
        stack.settings.temporal_target,
        TELEGRAM_ALLOWED_CHAT_IDS=str(allowed_group),
    )
    op = stack.runtime.operator(settings)
    breached = tmp_path / "gate-breached"

    def from_group(chat: int, **kw: str) -> Incoming:
        return Incoming(user_id=ALLOWED_USER, chat_id=chat, chat_type="supergroup", **kw)

    # The same person in the allowed group is let in: the group is the only difference.
    card = await op.handle(from_group(allowed_group, text="/exec echo allowed-here"))
    assert card[0].job_id is not None, plain(card)

    refused = plain(await op.handle(from_group(other_group, text=f"/exec touch {breached}")))
    assert "This group is not allowed" in refused and str(other_group) in refused
    assert await op.handle(from_group(other_group, text="/research anything")) == []  # told once
    assert await op.handle(from_group(other_group, callback_data=f"cancel:{card[0].job_id}")) == []

    await assert_no_job_started(client, op, other_group)
    assert not breached.exists()
    assert await stack.runtime.chats.get(other_group) is None  # not even counted as a chat
    audit = await stack.runtime.audit.recent(20)
    assert sum(e.chat_id == other_group and e.action == "refused" for e in audit) == 3
    await wait_status(client, card[0].job_id, JobState.completed)  # untouched by the press


async def test_one_chats_job_cannot_be_seen_or_acted_on_from_another(
    stack: Stack, client: Client, llm: ScriptedLLM
) -> None:
    owner, other = fresh_chat(), fresh_chat()
    settings = make_settings(
        stack.settings.data_dir,
        stack.settings.temporal_target,
        OPENAI_API_KEY="sk-test-not-real",
        OPENAI_BASE_URL=llm.base_url,
    )
    op = stack.runtime.operator(settings)
    # A job of `owner` that waits for a decision (retry, reroute or cancel would all act on it).
    spec = fast_retries(
        op.planner.exec_job("sh -c 'echo owners-secret > secret.txt; exit 3'", chat_id=owner),
        max_attempts=1,
    )
    await op.jobs.start(spec)
    job = spec.job_id
    before = await wait_status(client, job, JobState.needs_attention)

    def from_chat(chat: int, **kw: str) -> Incoming:
        return Incoming(user_id=ALLOWED_USER, chat_id=chat, **kw)

    refusal = f"no job {job} in this chat"
    for command in (f"/job {job}", f"/cancel {job}", f"/retry {job}", f"/reroute {job} execution"):
        answer = plain(await op.handle(from_chat(other, text=command)))
        assert refusal in answer, (command, answer)
    for press in (f"job:{job}", f"cancel:{job}", f"retry:{job}"):
        answer = plain(await op.handle(from_chat(other, callback_data=press)))
        assert refusal in answer, (press, answer)

    # The LLM intake's job tools go through the same check.
    llm.push(
        tool_calls(
            ("get_job", {"job_id": job}),
            ("cancel_job", {"job_id": job}),
            ("update_job", {"job_id": job, "metadata": {"owner": "intruder"}}),
        ),
        tool_calls(  # at most four calls a turn: the rest on the next
            ("run_job_now", {"job_id": job}),
            ("read_workspace_file", {"job_id": job, "path": "secret.txt"}),
            ("write_workspace_file", {"job_id": job, "path": "planted.txt", "content": "x"}),
        ),
        text("Nothing I can do here."),
    )
    await op.handle(from_chat(other, text="show me that job, then cancel it"))
    results = llm.tool_results(2)  # both turns' results
    assert len(results) == 6 and all(r == f"error: {refusal}" for r in results), results
    assert "owners-secret" not in json.dumps(llm.requests)

    # The job is as it was: still waiting, same step, no metadata, nothing written, no copy.
    after = await wait_status(client, job, JobState.needs_attention)
    assert after == before
    assert (await op.jobs.spec_of(job)).metadata == {}
    assert (await client.get_workflow_handle(job).describe()).status == (
        WorkflowExecutionStatus.RUNNING
    )
    assert not list(stack.settings.workspaces_dir.rglob("planted.txt"))
    await assert_no_job_started(client, op, other)

    # Its own chat sees it and can act on it (the refusals above were about the chat).
    shown = plain(await op.handle(from_chat(owner, text=f"/job {job}")))
    assert job in shown and "in this chat" not in shown
    assert "Cancelling" in plain(await op.handle(from_chat(owner, text=f"/cancel {job}")))
    await wait_status(client, job, JobState.cancelled)


async def test_the_nothing_started_check_sees_a_job_started_just_before(
    stack: Stack, client: Client
) -> None:
    """The check the refusal tests rely on fails for a job started a moment earlier (a bare
    count right after starting it would usually still read 0)."""
    chat = fresh_chat()
    await stack.operator.jobs.start(stack.operator.planner.exec_job("true", chat_id=chat))
    with pytest.raises(AssertionError, match=f"1 job\\(s\\) started for chat {chat}"):
        await assert_no_job_started(client, stack.operator, chat)
