"""The approval gate, end to end: free text in Telegram (Bot API emulator) → the scripted model's
`create_job` → a job that waits in awaiting_approval → Approve / Deny presses through the real
bot → what ran (or did not) in the workspace, the chat and the audit log.

The stack here has its own namespace, emulator and scripted LLM, so its operator's intake talks
to the model and no other test's workers take its tasks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import shlex
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from bot.console import CONSOLE_CHAT_ID
from core.domain.ids import workspace_name
from core.domain.jobs.approval import approval_digest, schedule_approval_id
from core.domain.jobs.models import (
    Approval,
    ApprovalDecision,
    JobState,
    JobStatus,
    ScheduleApproval,
    ScheduleSpec,
)
from core.domain.render import utf16_len
from core.domain.temporal_names import OPERATOR_QUEUE
from core.io.devserver import DevServer
from core.io.workspace import workspace_dir
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.jobs import wait_status
from tests.support.llm_server import ScriptedLLM, tool_call
from tests.support.namespaces import new_namespace
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack, make_settings, running_stack
from tests.support.visibility import wait_visible
from tests.support.web_pages import LocalWeb

OTHER_USER = 1002  # allowed, but in a chat of their own
STRANGER = 6671  # not allowed at all
JOB_ID = re.compile(r"\b(job-[a-z0-9]+)\b")


@dataclass
class Gate:
    stack: Stack
    botapi: BotApiEmulator
    llm: ScriptedLLM
    client: Client

    @property
    def settings(self) -> Any:
        return self.stack.settings

    def workspace(self, job_id: str, chat: int = ALLOWED_USER) -> Path:
        return workspace_dir(self.settings.workspaces_dir, workspace_name(chat, job_id))

    async def propose(
        self,
        chat: int,
        command: str,
        goal: str | None = None,
        shown: str | None = None,
        **schedule: Any,
    ) -> SentMessage:
        """A person's free text; the model proposes `command` on the execution worker. Returns
        the first message to the chat that shows `shown` (default: the command)."""
        goal = f"please: {command}" if goal is None else goal
        self.llm.push(
            tool_call(
                "create_job",
                {"goal": goal, "worker": "execution", "input": command, **schedule},
            )
        )
        marker = uuid.uuid4().hex[:6]
        self.botapi.inject_message(f"could you do this ({marker})", user_id=chat, chat_id=chat)
        want = command if shown is None else shown
        return await self.botapi.wait_for(
            lambda m: m.chat_id == chat and want in (m.plain_text or ""), timeout=60
        )

    async def press(self, chat: int, data: str, user: int | None = None) -> str | None:
        """A button press; returns the toast the bot answered it with."""
        user = chat if user is None else user
        self.botapi.inject_callback(data, user_id=user, chat_id=chat)
        answer = await self.botapi.wait_for_answer(lambda a: a.data == data and a.user_id == user)
        return answer.text

    def about(self, chat: int, job_id: str) -> list[str]:
        return [
            m.plain_text or ""
            for m in self.botapi.messages_to(chat)
            if job_id in (m.plain_text or "")
        ]

    async def activity_runs(self, job_id: str, activity: str) -> int:
        count = 0
        async for event in self.client.get_workflow_handle(job_id).fetch_history_events():
            attrs = event.activity_task_scheduled_event_attributes
            if event.HasField("activity_task_scheduled_event_attributes"):
                count += attrs.activity_type.name == activity
        return count


@pytest.fixture(scope="module")
async def gate(
    dev_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gate]:
    ns = await new_namespace(dev_server.target, client, "approval")
    async with ScriptedLLM() as llm, BotApiEmulator(token=TEST_TOKEN) as botapi:
        settings = make_settings(
            tmp_path_factory.mktemp("approval"),
            dev_server.target,
            TELEGRAM_BASE_URL=botapi.base_url,
            TEMPORAL_NAMESPACE=ns.namespace,
            OPENAI_API_KEY="sk-test-not-real",
            OPENAI_BASE_URL=llm.base_url,
            # The research tests fetch from a recording server on 127.0.0.1.
            RESEARCH_ALLOW_PRIVATE_NETWORKS="true",
        )
        async with running_stack(settings, ns) as stack:
            yield Gate(stack, botapi, llm, ns)


@contextlib.contextmanager
def setting(gate: Gate, name: str, value: Any) -> Iterator[None]:
    saved = getattr(gate.settings, name)
    setattr(gate.settings, name, value)
    try:
        yield
    finally:
        setattr(gate.settings, name, saved)


def job_of(message: SentMessage) -> str:
    found = JOB_ID.search(message.plain_text or "")
    assert found, message.plain_text
    return found.group(1)


async def test_a_proposed_rm_waits_and_a_denial_runs_nothing(gate: Gate) -> None:
    chat = ALLOWED_USER
    request = await gate.propose(chat, "rm victim.txt")
    job_id = job_of(request)
    text = request.plain_text or ""
    # Exactly what would run, on which worker, where, and who asked.
    assert '["rm", "victim.txt"]' in text and "worker: execution" in text
    assert workspace_name(chat, job_id) in text and "language model" in text and str(chat) in text
    assert request.callback_data == [f"approve:{job_id}", f"deny:{job_id}"]
    victim = gate.workspace(job_id) / "victim.txt"
    victim.write_text("keep me")
    await wait_status(gate.client, job_id, JobState.awaiting_approval)
    assert (
        await gate.client.count_workflows(f"WorkflowId = '{job_id}'")
    ).count == 1  # visible (and filterable) while it waits

    toast = await gate.press(chat, f"deny:{job_id}")
    assert toast == "deny"
    status = await wait_status(gate.client, job_id, JobState.cancelled)
    assert status.phase == "denied" and "nothing ran" in status.last_error
    assert victim.read_text() == "keep me"
    assert await gate.activity_runs(job_id, "execution.run") == 0
    told = await gate.botapi.wait_for(
        lambda m: (
            m.chat_id == chat
            and job_id in (m.plain_text or "")
            and "Not run" in (m.plain_text or "")
        )
    )
    assert "denied by user" in (told.plain_text or "")

    # /job shows the command and the story: the wait for approval and who decided.
    gate.botapi.inject_message(f"/job {job_id}", user_id=chat, chat_id=chat)
    detail = await gate.botapi.wait_for(
        lambda m: (
            m.chat_id == chat
            and "Timeline" in (m.plain_text or "")
            and job_id in (m.plain_text or "")
        )
    )
    shown = detail.plain_text or ""
    assert '["rm", "victim.txt"]' in shown
    assert "✋ waiting for approval" in shown and f"👎 denied by user {chat}" in shown
    assert "⏹ cancelled" in shown


async def test_an_approved_rm_runs_once_and_a_second_press_is_answered(gate: Gate) -> None:
    chat = ALLOWED_USER
    request = await gate.propose(chat, "rm doomed.txt")
    job_id = job_of(request)
    doomed = gate.workspace(job_id) / "doomed.txt"
    doomed.write_text("bye")
    await wait_status(gate.client, job_id, JobState.awaiting_approval)
    assert doomed.exists()

    assert await gate.press(chat, f"approve:{job_id}") == "approve"
    await wait_status(gate.client, job_id, JobState.completed, timeout=30)
    assert not doomed.exists()

    # A second press is answered with what happened; nothing runs again.
    gate.botapi.inject_callback(f"approve:{job_id}", user_id=chat, chat_id=chat)
    again = await gate.botapi.wait_for(
        lambda m: m.chat_id == chat and "already approved" in (m.plain_text or "")
    )
    assert job_id in (again.plain_text or "")
    assert await gate.activity_runs(job_id, "execution.run") == 1
    entries = await gate.stack.runtime.audit.for_job(job_id)
    assert [e.action for e in entries] == ["approval_requested", "approved"]
    assert entries[1].user_id == chat


async def test_strangers_and_other_chats_cannot_decide(gate: Gate) -> None:
    chat = ALLOWED_USER
    request = await gate.propose(chat, "rm precious.txt")
    job_id = job_of(request)
    precious = gate.workspace(job_id) / "precious.txt"
    precious.write_text("mine")
    await wait_status(gate.client, job_id, JobState.awaiting_approval)

    # A stranger presses Approve under the request (in the same chat): ignored.
    assert await gate.press(chat, f"approve:{job_id}", user=STRANGER) is None
    # An allowed user in their own chat sends the same callback data: not their chat's job.
    gate.botapi.inject_message("/help", user_id=OTHER_USER, chat_id=OTHER_USER)
    await gate.botapi.wait_for(lambda m: m.chat_id == OTHER_USER)
    assert await gate.press(OTHER_USER, f"approve:{job_id}") == "refused"
    gate.botapi.inject_message(f"/approve {job_id}", user_id=OTHER_USER, chat_id=OTHER_USER)
    refusal = await gate.botapi.wait_for(
        lambda m: (
            m.chat_id == OTHER_USER and f"no job {job_id} in this chat" in (m.plain_text or "")
        )
    )
    assert refusal
    # The workflow's own validator refuses a decision from another chat, too.
    with pytest.raises(WorkflowUpdateFailedError):
        await gate.client.get_workflow_handle(job_id).execute_update(
            "approve", ApprovalDecision(user_id=OTHER_USER, chat_id=OTHER_USER)
        )

    status = await gate.client.get_workflow_handle(job_id).query("status", result_type=JobStatus)
    assert status.state is JobState.awaiting_approval
    assert precious.exists()
    assert await gate.activity_runs(job_id, "execution.run") == 0
    await gate.client.get_workflow_handle(job_id).cancel()


async def test_no_decision_in_time_cancels_and_tells_once(gate: Gate) -> None:
    chat = ALLOWED_USER
    with setting(gate, "approval_timeout_minutes", 0.03):  # about 2 s
        request = await gate.propose(chat, "rm forgotten.txt")
    job_id = job_of(request)
    assert "cancelled in 2 s" in (request.plain_text or "")
    status = await wait_status(gate.client, job_id, JobState.cancelled, timeout=30)
    assert status.phase == "approval timed out"
    handle = gate.client.get_workflow_handle(job_id)
    await handle.result()
    told = [t for t in gate.about(chat, job_id) if "Not run" in t]
    assert len(told) == 1 and "no decision within 2 s" in told[0]
    assert await gate.activity_runs(job_id, "execution.run") == 0
    actions = [e.action for e in await gate.stack.runtime.audit.for_job(job_id)]
    assert actions == ["approval_requested", "approval_timeout"]


async def test_an_auto_approved_df_runs_at_once(gate: Gate) -> None:
    chat = ALLOWED_USER
    with setting(gate, "execution_auto_approve", ["df", "uptime"]):
        card = await gate.propose(chat, "df -h .")
    job_id = job_of(card)
    assert "started" in (card.plain_text or "") and f"cancel:{job_id}" in card.callback_data
    assert '["df", "-h", "."]' in (card.plain_text or "")  # the card shows the command
    await wait_status(gate.client, job_id, JobState.completed, timeout=30)
    actions = [e.action for e in await gate.stack.runtime.audit.for_job(job_id)]
    assert actions == ["auto_approved"]


async def test_the_list_does_not_cover_a_shell_or_another_argv0(gate: Gate) -> None:
    chat = ALLOWED_USER
    with setting(gate, "execution_auto_approve", ["df"]):
        request = await gate.propose(chat, "dfx --wipe")
    job_id = job_of(request)
    await wait_status(gate.client, job_id, JobState.awaiting_approval)
    await gate.press(chat, f"deny:{job_id}")
    await wait_status(gate.client, job_id, JobState.cancelled)


async def test_a_command_a_person_typed_runs_as_before(gate: Gate) -> None:
    chat = ALLOWED_USER
    gate.botapi.inject_message("/exec echo typed-by-a-person", user_id=chat, chat_id=chat)
    card = await gate.botapi.wait_for(
        lambda m: m.chat_id == chat and "typed-by-a-person" in (m.plain_text or "")
    )
    job_id = job_of(card)
    await wait_status(gate.client, job_id, JobState.completed, timeout=30)
    assert await gate.stack.runtime.audit.for_job(job_id) == []


async def test_a_recurring_job_the_model_wrote_is_approved_once(gate: Gate) -> None:
    chat = ALLOWED_USER
    request = await gate.propose(chat, "echo tick-approved", every_minutes=60)
    found = re.search(r"jobsched-[a-z0-9]+", request.plain_text or "")
    assert found, request.plain_text
    sid = found.group(0)
    assert request.callback_data == [f"approve:{sid}", f"deny:{sid}"]
    assert '["echo", "tick-approved"]' in (request.plain_text or "")
    schedules = gate.stack.operator.schedules
    assert (await schedules.describe(sid)).paused  # nothing runs before the decision

    # Another chat cannot decide; the owner's chat approves once; a second press is answered.
    gate.botapi.inject_message(f"/approve {sid}", user_id=OTHER_USER, chat_id=OTHER_USER)
    await gate.botapi.wait_for(
        lambda m: m.chat_id == OTHER_USER and f"no recurring job {sid}" in (m.plain_text or "")
    )
    assert await gate.press(chat, f"approve:{sid}") == "approve"
    assert not (await schedules.describe(sid)).paused
    gate.botapi.inject_callback(f"approve:{sid}", user_id=chat, chat_id=chat)
    await gate.botapi.wait_for(
        lambda m: (
            m.chat_id == chat
            and f"{sid} is not waiting for approval" in (m.plain_text or "")
            and "approved by user" in (m.plain_text or "")
        )
    )
    # Each run then runs, without asking again.
    await schedules.trigger(sid)
    await wait_visible(gate.client, f"JobScheduleId = '{sid}' AND JobStatus = 'completed'")
    actions = [e.action for e in await gate.stack.runtime.audit.for_job(sid)]
    assert actions == ["approval_requested", "approved"]
    await schedules.delete(sid)


async def test_a_recurring_job_nobody_approves_is_deleted_and_told_once(gate: Gate) -> None:
    chat = ALLOWED_USER
    with setting(gate, "approval_timeout_minutes", 0.03):  # about 2 s
        request = await gate.propose(chat, "echo never-approved", every_minutes=60)
    found = re.search(r"jobsched-[a-z0-9]+", request.plain_text or "")
    assert found, request.plain_text
    sid = found.group(0)
    told = await gate.botapi.wait_for(
        lambda m: (
            m.chat_id == chat and sid in (m.plain_text or "") and "deleted" in (m.plain_text or "")
        ),
        timeout=30,
    )
    assert "no decision within 2 s" in (told.plain_text or "")
    await gate.stack.operator.schedules.client.get_workflow_handle(f"approval-{sid}").result()
    assert [m for m in gate.about(chat, sid) if "deleted" in m] == [told.plain_text]
    assert sid not in [i.schedule_id for i in await gate.stack.operator.schedules.list(chat)]
    assert (await gate.client.count_workflows(f"JobScheduleId = '{sid}'")).count == 0
    # A late press is answered with what happened.
    gate.botapi.inject_callback(f"approve:{sid}", user_id=chat, chat_id=chat)
    await gate.botapi.wait_for(
        lambda m: m.chat_id == chat and f"no schedule {sid}" in (m.plain_text or "")
    )


# --- one decision wins ----------------------------------------------------------------------
async def _both_at_once(gate: Gate, workflow_id: str, chat: int) -> list[str | BaseException]:
    handle = gate.client.get_workflow_handle(workflow_id)
    decision = ApprovalDecision(user_id=chat, chat_id=chat)
    results = await asyncio.gather(
        handle.execute_update("approve", decision, result_type=str),
        handle.execute_update("deny", decision, result_type=str),
        return_exceptions=True,
    )
    return list(results)


@pytest.mark.parametrize("attempt", range(5))
async def test_approve_and_deny_at_the_same_moment_one_wins(gate: Gate, attempt: int) -> None:
    chat = ALLOWED_USER
    spec = gate.stack.operator.planner.exec_job(f"echo race-{attempt}", chat_id=chat)
    spec = spec.model_copy(update={"approval": Approval.required})
    await gate.stack.operator.jobs.start(spec)
    await wait_status(gate.client, spec.job_id, JobState.awaiting_approval)
    approved, denied = await _both_at_once(gate, spec.job_id, chat)
    accepted = [r for r in (approved, denied) if isinstance(r, str)]
    refused = [r for r in (approved, denied) if isinstance(r, WorkflowUpdateFailedError)]
    assert len(accepted) == 1 and len(refused) == 1, (approved, denied)
    assert "already" in str(refused[0].cause), refused[0].cause
    final = JobState.completed if isinstance(approved, str) else JobState.cancelled
    await wait_status(gate.client, spec.job_id, final, timeout=30)
    runs = await gate.activity_runs(spec.job_id, "execution.run")
    assert runs == (1 if final is JobState.completed else 0)


async def test_the_schedule_approval_takes_one_of_two_decisions_at_once(gate: Gate) -> None:
    chat = ALLOWED_USER
    schedules = gate.stack.operator.schedules
    for attempt in range(5):
        spec = gate.stack.operator.planner.exec_job(f"echo sched-race-{attempt}", chat_id=chat)
        spec = spec.model_copy(update={"approval": Approval.required})
        deadline = datetime.now(UTC) + timedelta(hours=1)
        sid = await schedules.create(
            spec, ScheduleSpec(every_seconds=3600), approval_deadline=deadline
        )
        handle = await gate.client.start_workflow(
            "ScheduleApprovalWorkflow",
            ScheduleApproval(schedule_id=sid, chat_id=chat, requested_by=chat),
            id=schedule_approval_id(sid),
            task_queue=OPERATOR_QUEUE,
        )
        # Answered once its first task has run (the request is known to it).
        assert await handle.query("outcome", result_type=str) == "waiting for approval"
        approved, denied = await _both_at_once(gate, handle.id, chat)
        accepted = [r for r in (approved, denied) if isinstance(r, str)]
        refused = [r for r in (approved, denied) if isinstance(r, WorkflowUpdateFailedError)]
        assert len(accepted) == 1 and len(refused) == 1, (attempt, approved, denied)
        assert "already" in str(refused[0].cause), refused[0].cause
        outcome = await handle.result()
        listed = [i.schedule_id for i in await schedules.list(chat)]
        if isinstance(approved, str):
            assert outcome.startswith("approved") and sid in listed
            assert not (await schedules.describe(sid)).paused
            await schedules.delete(sid)
        else:
            assert outcome.startswith("denied") and sid not in listed


# --- no field of a decision lifts the chat rule ---------------------------------------------
async def test_a_decision_with_an_extra_field_is_refused(gate: Gate) -> None:
    chat = ALLOWED_USER
    spec = gate.stack.operator.planner.exec_job("echo console-flag", chat_id=chat)
    spec = spec.model_copy(update={"approval": Approval.required})
    await gate.stack.operator.jobs.start(spec)
    await wait_status(gate.client, spec.job_id, JobState.awaiting_approval)
    handle = gate.client.get_workflow_handle(spec.job_id)
    # What `temporal workflow update execute --name approve` can send: a payload saying it
    # comes from the console, from another chat.
    forged: dict[str, Any] = {"user_id": OTHER_USER, "chat_id": OTHER_USER, "console": True}
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("approve", forged, result_type=str)
    assert "only user_id and chat_id" in str(refused.value.cause)
    # Any field it does not know, even from the job's own chat.
    extra: dict[str, Any] = {"user_id": chat, "chat_id": chat, "trusted": True}
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("approve", extra, result_type=str)
    # The console decides as its own chat, like any other: not for this one.
    with pytest.raises(WorkflowUpdateFailedError) as other:
        await handle.execute_update(
            "approve", ApprovalDecision(user_id=1, chat_id=CONSOLE_CHAT_ID), result_type=str
        )
    assert "only the chat" in str(other.value.cause)
    status = await handle.query("status", result_type=JobStatus)
    assert status.state is JobState.awaiting_approval
    await handle.execute_update("deny", ApprovalDecision(user_id=chat, chat_id=chat))
    await wait_status(gate.client, spec.job_id, JobState.cancelled)
    assert await gate.activity_runs(spec.job_id, "execution.run") == 0


# --- the approver sees the whole command, and that is what runs ------------------------------
async def _scheduled_inputs(gate: Gate, job_id: str, activity: str) -> list[dict[str, Any]]:
    inputs = []
    async for event in gate.client.get_workflow_handle(job_id).fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == activity:
                inputs.append(json.loads(attrs.input.payloads[0].data))
    return inputs


@pytest.mark.parametrize("pad", [1600, 3000])
async def test_a_long_command_with_a_hidden_tail_is_shown_whole_and_runs_as_shown(
    gate: Gate, pad: int
) -> None:
    """1,600 spaces fit in the message: the whole argv is in it. 3,000 do not: the whole argv
    is attached, one item per line, with its SHA-256 in the message. Either way the job runs
    exactly the argv shown, and the audit log keeps the digest."""
    chat = ALLOWED_USER
    marker = uuid.uuid4().hex[:8]
    argv = ["echo", "hello" + " " * pad + f"hidden-tail-{marker}"]
    command = f'echo "{argv[1]}"'
    request = await gate.propose(chat, command, goal=f"say hello {marker}", shown=marker)
    job_id = job_of(request)
    text = request.plain_text or ""
    assert utf16_len(text) <= 4096
    await wait_status(gate.client, job_id, JobState.awaiting_approval)
    spec = await gate.stack.operator.jobs.spec_of(job_id)
    digest = approval_digest(spec)
    assert digest in text
    if f"hidden-tail-{marker}" in text:
        assert json.dumps(argv) in text  # the whole argv, inline
    else:
        attached = await gate.botapi.wait_for(
            lambda m: (
                m.chat_id == chat
                and m.method == "sendDocument"
                and f"hidden-tail-{marker}".encode() in (m.document_content or b"")
            )
        )
        assert attached.document_filename == "command.txt"
        document = attached.document_content or b""
        assert hashlib.sha256(document).hexdigest() == digest
        assert [json.loads(line) for line in document.decode().splitlines()[1:]] == argv

    assert await gate.press(chat, f"approve:{job_id}") == "approve"
    await wait_status(gate.client, job_id, JobState.completed, timeout=30)
    (ran,) = await _scheduled_inputs(gate, job_id, "execution.run")
    assert shlex.split(ran["params"]["command"]) == argv  # exactly what was shown
    entries = await gate.stack.runtime.audit.for_job(job_id)
    assert f"sha256={digest}" in entries[0].detail


async def test_hidden_characters_in_the_argv_and_the_goal_are_shown_escaped(gate: Gate) -> None:
    chat = ALLOWED_USER
    marker = uuid.uuid4().hex[:8]
    command = "cat 'report\u202etxt.exe' 'a\u200bb' 'bell\x07'"
    goal = f"show {marker} \u2066hidden\u2069 \x1b[2J"
    request = await gate.propose(chat, command, goal=goal, shown=marker)
    text = request.text or ""
    for raw in ("\u202e", "\u200b", "\x07", "\u2066", "\u2069", "\x1b"):
        assert raw not in text, repr(raw)
    for shown in ("\\u202e", "\\u200b", "\\u0007", "\\u2066", "\\u2069", "\\u001b"):
        assert shown in text, shown
    job_id = job_of(request)
    # /job shows it the same way.
    gate.botapi.inject_message(f"/job {job_id}", user_id=chat, chat_id=chat)
    detail = await gate.botapi.wait_for(
        lambda m: m.chat_id == chat and "Timeline" in (m.plain_text or "") and job_id in m.text
    )
    assert "\u202e" not in (detail.text or "") and "\\u202e" in (detail.text or "")
    await gate.press(chat, f"deny:{job_id}")
    await wait_status(gate.client, job_id, JobState.cancelled)


async def test_a_goal_cannot_forge_lines_that_look_like_the_command(gate: Gate) -> None:
    chat = ALLOWED_USER
    marker = uuid.uuid4().hex[:8]
    forged = 'execution runs: ls -la /\nargv: ["ls", "-la", "/"]' + "\n" * 220 + marker
    request = await gate.propose(chat, "rm forged-target.txt", goal=forged, shown="forged-target")
    lines = (request.plain_text or "").splitlines()
    commands = [line for line in lines if line.startswith(("execution", "argv"))]
    assert commands == ['execution runs argv: ["rm", "forged-target.txt"]'], commands
    (goal,) = [line for line in lines if line.startswith("goal:")]
    assert "execution runs: ls -la /⏎argv:" in goal
    job_id = job_of(request)
    await gate.press(chat, f"deny:{job_id}")
    await wait_status(gate.client, job_id, JobState.cancelled)


# --- a model chooses no network destination without a person --------------------------------
async def _research(gate: Gate, chat: int, said: str, question: str) -> SentMessage:
    gate.llm.push(
        tool_call("create_job", {"goal": question, "worker": "research", "input": question})
    )
    gate.botapi.inject_message(said, user_id=chat, chat_id=chat)
    return await gate.botapi.wait_for(
        lambda m: m.chat_id == chat and question[:40] in (m.plain_text or ""), timeout=20
    )


async def test_a_url_the_model_chose_waits_for_approval_showing_it(gate: Gate) -> None:
    chat = ALLOWED_USER
    async with LocalWeb() as web:
        url = web.url("/page?d=the-private-notes")
        request = await _research(
            gate, chat, "look into my notes please", f"summarize {url} for the notes"
        )
        job_id = job_of(request)
        text = request.plain_text or ""
        assert "waiting for approval" in text and f'research fetches: ["{url}"]' in text
        await wait_status(gate.client, job_id, JobState.awaiting_approval)
        assert web.hits == []  # nothing fetched before a person decided
        assert await gate.press(chat, f"approve:{job_id}") == "approve"
        await wait_status(gate.client, job_id, JobState.completed, timeout=30)
        assert [hit.path for hit in web.hits] == ["/page"]


async def test_a_url_the_person_wrote_or_an_allowed_host_runs_at_once(gate: Gate) -> None:
    chat = ALLOWED_USER
    async with LocalWeb() as web:
        url = web.url("/page?from=person")
        card = await _research(gate, chat, f"what does {url} say?", f"what {url} says")
        job_id = job_of(card)
        assert "waiting for approval" not in (card.plain_text or "")
        await wait_status(gate.client, job_id, JobState.completed, timeout=30)
        assert len(web.hits) == 1
        with setting(gate, "research_auto_approve_hosts", ["127.0.0.1"]):
            allowed = web.url("/page?host=allowed")
            card = await _research(gate, chat, "read the page", f"summarize {allowed} now")
        job_id = job_of(card)
        assert "waiting for approval" not in (card.plain_text or "")
        await wait_status(gate.client, job_id, JobState.completed, timeout=30)
        assert len(web.hits) == 2


async def _request_closed(gate: Gate, request: SentMessage, words: str) -> SentMessage:
    """The approval request, edited to say how it ended."""
    return await gate.botapi.wait_for_edit(
        lambda e: (
            e.chat_id == request.chat_id
            and e.message_id == request.message_id
            and words in (e.plain_text or "")
        ),
        timeout=30,
    )


async def test_an_expired_request_says_so_and_keeps_no_buttons(gate: Gate) -> None:
    chat = ALLOWED_USER
    with setting(gate, "approval_timeout_minutes", 0.03):  # about 2 s
        request = await gate.propose(chat, "rm expired.txt")
    job_id = job_of(request)
    edited = await _request_closed(gate, request, "expired after 2 s; nothing ran")
    assert edited.inline_keyboard == []
    assert "rm" in (edited.plain_text or "")  # what it asked is still there to read
    # A press on the old Approve button: a toast saying what happened, nothing runs.
    toast = await gate.press(chat, f"approve:{job_id}")
    assert toast is not None and "cancelled: no decision in time" in toast
    assert await gate.activity_runs(job_id, "execution.run") == 0
    assert gate.botapi.not_modified(chat) == []


async def test_a_decided_request_names_who_and_old_buttons_answer_what_happened(
    gate: Gate,
) -> None:
    chat = ALLOWED_USER
    request = await gate.propose(chat, "rm decided.txt")
    job_id = job_of(request)
    (gate.workspace(job_id) / "decided.txt").write_text("bye")
    await wait_status(gate.client, job_id, JobState.awaiting_approval)
    assert await gate.press(chat, f"approve:{job_id}") == "approve"
    edited = await _request_closed(gate, request, f"approved by user {chat}")
    assert edited.inline_keyboard == []
    await wait_status(gate.client, job_id, JobState.completed, timeout=30)

    toast = await gate.press(chat, f"deny:{job_id}")
    assert toast == f"{job_id} was already approved by user {chat}"
    toast = await gate.press(chat, f"retry:{job_id}")
    assert toast == f"{job_id} has already completed"

    denied = await gate.propose(chat, "rm refused.txt")
    denied_id = job_of(denied)
    await wait_status(gate.client, denied_id, JobState.awaiting_approval)
    assert await gate.press(chat, f"deny:{denied_id}") == "deny"
    edited = await _request_closed(gate, denied, f"denied by user {chat}")
    assert edited.inline_keyboard == []
    assert gate.botapi.not_modified(chat) == []
