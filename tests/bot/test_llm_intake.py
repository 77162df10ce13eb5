"""LLM intake against a scripted OpenAI-compatible server and the real dev server: a clean tool
call, an invalid one corrected on the second turn, a model that never gets it right, a clarifying
question, an unreachable model, and strangers that never reach the model."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client

from bot.intake.llm import MAX_ROUNDS
from bot.operator import LLM_OUTAGE_NOTICE, Operator
from bot.types import Incoming
from core.domain.jobs.models import JobState
from tests.support.jobs import assert_no_job_started, wait_status
from tests.support.llm_server import (
    FAULT_MODES,
    Mode,
    ScriptedLLM,
    ScriptedReply,
    text,
    tool_call,
    tool_calls,
)
from tests.support.stack import ALLOWED_USER, Stack, make_settings
from tests.support.visibility import wait_visible

STRANGER = 6668  # not the e2e tests' stranger: they count that one's audit entries


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLM]:
    async with ScriptedLLM() as server:
        yield server


def llm_operator(stack: Stack, llm: ScriptedLLM, **overrides: Any) -> Operator:
    """An operator whose intake talks to the scripted model; jobs run on the session stack."""
    settings = make_settings(
        stack.settings.data_dir,
        stack.settings.temporal_target,
        OPENAI_API_KEY="sk-test-not-real",
        OPENAI_BASE_URL=llm.base_url,
        **overrides,
    )
    runtime = stack.runtime
    return runtime.operator(settings)


def fresh_chat() -> int:
    return 700_000 + uuid.uuid4().int % 100_000


def said(chat: int, words: str, user: int = ALLOWED_USER) -> Incoming:
    return Incoming(user_id=user, chat_id=chat, text=words)


async def jobs_of(client: Client, chat: int) -> int:
    return (await client.count_workflows(f"ReportChatId = {chat}")).count


async def test_a_clean_tool_call_starts_a_job_in_one_round_trip(
    stack: Stack, llm: ScriptedLLM, client: Client
) -> None:
    # `echo` is on the owner's auto-approve list here, so the model's command runs at once.
    op = llm_operator(stack, llm, EXECUTION_AUTO_APPROVE="echo")
    chat = fresh_chat()
    llm.push(
        tool_call(
            "create_job",
            {"goal": "say hello from the LLM", "worker": "execution", "input": "echo llm-hello"},
        )
    )
    replies = await op.handle(said(chat, "please say hello from the box"))

    assert len(llm.requests) == 1  # the card is the answer: no second model call
    assert op.intake.llm is not None and op.intake.llm.round_trips_total == 1
    (card,) = replies
    assert card.job_id and card.job_id.startswith("job-")
    assert "execution" in card.text and f"cancel:{card.job_id}" in [b.data for b in card.buttons]
    request = llm.requests[0]
    assert {t["function"]["name"] for t in request["tools"]} >= {
        "list_workers",
        "create_job",
        "list_jobs",
        "get_job",
        "update_job",
        "cancel_job",
        "run_job_now",
        "read_workspace_file",
        "write_workspace_file",
    }
    assert "sk-test-not-real" not in json.dumps(request)
    status = await wait_status(client, card.job_id, JobState.completed, timeout=30)
    assert status.job_id == card.job_id

    # The conversation remembers the job id, so "cancel it" has something to refer to.
    turns = await op.intake.conversations.recent(chat)
    assert [t.role for t in turns] == ["user", "assistant"]
    assert card.job_id in turns[-1].job_ids


async def test_an_invalid_call_is_corrected_on_the_second_turn(
    stack: Stack, llm: ScriptedLLM, client: Client
) -> None:
    op = llm_operator(stack, llm)
    chat = fresh_chat()
    llm.push(
        # A hallucinated worker, an unknown field and no command: nothing may start.
        tool_call("create_job", {"goal": "disk", "worker": "gpu-cluster", "priority": "high"}),
        tool_call("create_job", {"goal": "check disk", "worker": "execution", "input": "df -h"}),
    )
    replies = await op.handle(said(chat, "check the disk"))

    assert len(llm.requests) == 2
    (feedback,) = llm.tool_results(1)
    assert feedback.startswith("error: invalid arguments for create_job")
    assert "priority" in feedback
    (card,) = replies
    assert card.job_id is not None
    # The invalid call started nothing: once the corrected call's job (started after it) is
    # visible, it is the chat's only one.
    await wait_visible(client, f"WorkflowId = '{card.job_id}'")
    assert await jobs_of(client, chat) == 1


async def test_a_model_that_never_gets_it_right_is_stopped(
    stack: Stack, llm: ScriptedLLM, client: Client
) -> None:
    op = llm_operator(stack, llm)
    chat = fresh_chat()
    llm.script = [tool_call("create_job", {"worker": "nope"})]
    llm.repeat_last = True
    replies = await op.handle(said(chat, "do the thing"))

    assert len(llm.requests) == MAX_ROUNDS
    assert len(replies) == 1 and "could not" in replies[0].text
    await assert_no_job_started(client, op, chat)


async def test_garbage_arguments_and_unknown_tools_do_not_crash(
    stack: Stack, llm: ScriptedLLM, client: Client
) -> None:
    op = llm_operator(stack, llm)
    chat = fresh_chat()
    llm.push(
        ScriptedReply(tool_calls=[("create_job", "{not json"), ("drop_database", "{}")]),
        tool_call("get_job", {"job_id": "job-doesnotexist"}),
        text("I could not find that job."),
    )
    replies = await op.handle(said(chat, "how is my job"))
    assert "not valid JSON" in llm.tool_results(1)[0]
    assert "no tool named" in llm.tool_results(1)[1]
    assert "no job" in llm.tool_results(2)[-1]
    assert replies[-1].text == "I could not find that job."
    await assert_no_job_started(client, op, chat)


async def test_an_ambiguous_request_gets_one_question_and_the_answer_has_context(
    stack: Stack, llm: ScriptedLLM, client: Client
) -> None:
    op = llm_operator(stack, llm)
    chat = fresh_chat()
    llm.push(text("Which box should I check, and how often?"))
    (question,) = await op.handle(said(chat, "keep an eye on the disk"))
    assert question.text.endswith("?") and question.job_id is None
    await assert_no_job_started(client, op, chat)

    llm.push(text("Fine."))
    await op.handle(said(chat, "this one, once"))
    history = [m["content"] for m in llm.requests[1]["messages"] if m["role"] != "system"]
    assert history == [
        "keep an eye on the disk",
        "Which box should I check, and how often?",
        "this one, once",
    ]


async def test_status_questions_are_answered_from_temporal(stack: Stack, llm: ScriptedLLM) -> None:
    op = llm_operator(stack, llm)
    chat = fresh_chat()
    llm.push(tool_call("list_jobs", {"status": "running"}))
    (answer,) = await op.handle(said(chat, "anything running?"))
    assert answer.text == "<b>Running now</b>: none."
    assert len(llm.requests) == 1


async def test_an_unreachable_model_falls_back_to_keywords(stack: Stack, llm: ScriptedLLM) -> None:
    op = llm_operator(stack, llm)
    chat = fresh_chat()
    llm.push(*[ScriptedReply(status=503)] * 5)
    (reply,) = await op.handle(said(chat, "what is running?"))
    assert len(llm.requests) == 1  # no SDK retries on the interactive path
    assert "Running now" in reply.text and LLM_OUTAGE_NOTICE in reply.text
    # Told once: the next answer in the same outage carries no notice.
    (again,) = await op.handle(said(chat, "what is running?"))
    assert "Running now" in again.text and LLM_OUTAGE_NOTICE not in again.text


@pytest.mark.parametrize("mode", FAULT_MODES)
async def test_a_misbehaving_model_is_a_fallback_never_an_error(
    stack: Stack, client: Client, mode: Mode
) -> None:
    async with ScriptedLLM(mode=mode) as bad:
        op = llm_operator(stack, bad, LLM_TIMEOUT_SECONDS=0.5, LLM_BREAKER_FAILURES=2)
        chat = fresh_chat()
        answers = [await op.handle(said(chat, "what is running?")) for _ in range(4)]
        for replies in answers:
            assert "Running now" in replies[0].text, replies
        texts = [r.text for replies in answers for r in replies]
        assert sum(LLM_OUTAGE_NOTICE in t for t in texts) == 1
        assert LLM_OUTAGE_NOTICE in answers[0][-1].text
        assert not any("Error" in t or "Traceback" in t for t in texts), texts
        assert len(bad.requests) <= 2  # the breaker opened after two failures
        await assert_no_job_started(client, op, chat)


async def test_strangers_never_reach_the_model(
    stack: Stack, llm: ScriptedLLM, client: Client
) -> None:
    op = llm_operator(stack, llm)
    llm.push(tool_call("create_job", {"goal": "x", "worker": "execution", "input": "id"}))
    replies = await op.handle(said(STRANGER, "run id please", user=STRANGER))
    assert len(replies) == 1 and str(STRANGER) in replies[0].text
    assert llm.requests == []
    await assert_no_job_started(client, op, STRANGER)


async def test_a_model_that_fails_midway_does_not_redo_by_keywords(
    stack: Stack, llm: ScriptedLLM, client: Client
) -> None:
    op = llm_operator(stack, llm)
    chat = fresh_chat()
    llm.push(
        tool_calls(
            ("create_job", {"goal": "hello", "worker": "execution", "input": "echo midway"}),
            ("get_job", {"job_id": "job-doesnotexist"}),
        ),
        ScriptedReply(status=500),
    )
    replies = await op.handle(said(chat, "run echo midway"))
    job_id = replies[0].job_id
    assert job_id is not None
    assert "stopped answering" in replies[-1].text
    await client.get_workflow_handle(job_id).describe()  # the job the model started runs
    # The router did not run the request a second time.
    assert [r.job_id for r in replies if r.job_id] == [job_id]
