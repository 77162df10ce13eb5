"""`/job <id>` tells the job's story from its Temporal history, through the real bot and the
Bot API emulator: a model-written command waits for approval and is approved; its step's
worker process is SIGKILLed mid-step and the step is retried on another worker process; the
timeline shows the wait, who approved, the lost worker, the attempt on the new worker and the
result told (from the report ledger)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from pathlib import Path

from temporalio.client import Client

from bot.types import Incoming
from core.domain.ids import workspace_name
from core.domain.jobs.models import JobOrigin, JobState
from core.domain.jobs.timeline import StepOutcome, StepRun
from core.domain.render import console_text
from core.io.devserver import DevServer
from core.io.jobs.history import read_timeline
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.jobs import fast_retries, wait_status
from tests.support.namespaces import new_namespace
from tests.support.roles import kill_role, role_env, spawn_role
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack, make_settings, running_stack

UI = "http://ui.example:8233"


def _started(path: Path) -> int:
    return path.read_text().count("started") if path.exists() else 0


def _tail(log: Path) -> str:
    return log.read_text()[-2000:] if log.exists() else "no log"


async def _wait_file(path: Path, lines: int, log: Path) -> None:
    # Generous: a worker process starts its secret-free execution child before it polls.
    for _ in range(1200):
        if _started(path) >= lines:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(_tail(log))


async def _wait_retry_scheduled(client: Client, job_id: str) -> None:
    """Until the server has noticed the missed heartbeat and scheduled attempt 2."""
    for _ in range(400):
        desc = await client.get_workflow_handle(job_id).describe()
        if any(p.attempt >= 2 for p in desc.raw_description.pending_activities):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{job_id}: no second attempt scheduled")


async def _ask_job(botapi: BotApiEmulator, chat: int, job_id: str, marker: str) -> SentMessage:
    botapi.inject_message(f"/job {job_id}", user_id=chat, chat_id=chat)
    return await botapi.wait_for(
        lambda m: m.chat_id == chat and "Timeline" in m.plain_text and marker in m.plain_text,
        timeout=20,
    )


async def test_a_lost_worker_and_an_approval_are_in_the_story(
    dev_server: DevServer, client: Client, tmp_path: Path
) -> None:
    ns = await new_namespace(dev_server.target, client, "timeline")
    chat = ALLOWED_USER
    async with BotApiEmulator(token=TEST_TOKEN) as botapi:
        settings = make_settings(
            tmp_path,
            dev_server.target,
            TELEGRAM_BASE_URL=botapi.base_url,
            TEMPORAL_NAMESPACE=ns.namespace,
            TEMPORAL_UI_URL=UI,
        )
        env = role_env(settings)
        # Execution runs only in worker processes of its own, so one can be killed mid-step.
        async with running_stack(settings, ns, queues=("operator", "reporting")) as stack:
            first = spawn_role(["--queue", "execution"], env, tmp_path / "worker1.log")
            second: subprocess.Popen[bytes] | None = None
            try:
                # A command a language model wrote: the job waits for a person's Approve.
                spec = stack.operator.planner.exec_job(
                    "sh -c 'echo started >> runs; until [ -e release ]; do sleep 0.1; done; "
                    "echo survived'",
                    chat_id=chat,
                    origin=JobOrigin.llm_intake,
                )
                steps = [
                    spec.steps[0].model_copy(update={"heartbeat_timeout_seconds": 3}),
                    *spec.steps[1:],
                ]
                spec = spec.model_copy(update={"steps": steps})
                handle = await stack.operator.jobs.start(spec)
                request = await botapi.wait_for(
                    lambda m: m.chat_id == chat and spec.job_id in m.plain_text, timeout=20
                )
                botapi.inject_callback(
                    f"approve:{spec.job_id}",
                    user_id=chat,
                    chat_id=chat,
                    message_id=request.message_id,
                )
                await botapi.wait_for_answer(lambda a: a.data == f"approve:{spec.job_id}")

                runs = tmp_path / "workspaces" / workspace_name(chat, spec.job_id) / "runs"
                await _wait_file(runs, 1, tmp_path / "worker1.log")
                os.killpg(first.pid, signal.SIGKILL)
                first.wait(10)

                # Until another worker takes the step, Temporal still names the lost one.
                await _wait_retry_scheduled(ns, spec.job_id)
                waiting = await _ask_job(botapi, chat, spec.job_id, "waiting for a worker")
                lost = re.search(
                    r"attempt 1 → worker (\S+) lost \(no heartbeat for 3\.0s\)", waiting.plain_text
                )
                assert lost, waiting.plain_text
                assert "step 1: attempt 2: waiting for a worker" in waiting.plain_text

                second = spawn_role(["--queue", "execution"], env, tmp_path / "worker2.log")
                await _wait_file(runs, 2, tmp_path / "worker2.log")
                (runs.parent / "release").touch()
                result = await asyncio.wait_for(handle.result(), 60)
                assert result.state is JobState.completed
                await botapi.wait_for(
                    lambda m: (
                        m.chat_id == chat
                        and spec.job_id in m.plain_text
                        and "completed" in m.plain_text
                    ),
                    timeout=20,
                )

                # The history itself: attempt 2 ran on the second process after a lost worker.
                timeline = await read_timeline(ns, spec.job_id, ledger=stack.runtime.ledger)
                (run,) = [
                    e for e in timeline.events if isinstance(e, StepRun) and e.step_index == 0
                ]
                assert (
                    run.attempt == 2 and run.previous_lost and run.outcome is StepOutcome.completed
                )
                assert run.identity and run.identity != lost.group(1)

                story = await _ask_job(botapi, chat, spec.job_id, "result told")
            finally:
                for proc in (first, second):
                    if proc is not None:
                        kill_role(proc, signal.SIGTERM)
    shown = story.plain_text
    print(shown)  # the story as a person reads it (pytest -s)
    head, _, story_text = shown.partition("Timeline (from the start)\n")
    assert head.startswith(f"✅ {spec.job_id} · completed"), shown
    lines = story_text.splitlines()

    def line_with(text: str) -> int:
        found = [i for i, line in enumerate(lines) if text in line]
        assert found, f"{text!r} not in:\n{shown}"
        return found[0]

    order = [
        line_with("accepted"),
        line_with("waiting for approval"),
        line_with(f"approved by user {chat}"),
        line_with("step 1 · execution: attempt 1 → its worker lost (no heartbeat for 3.0s)"),
        line_with(f"step 1: attempt 2 on {run.identity}: ✓ done"),
        line_with("✅ completed"),
        line_with("result told (completed)"),
    ]
    assert order == sorted(order), shown
    assert re.search(r"^\+\d+\.\ds accepted$", lines[line_with("accepted")]), shown
    # The link to the job in the Web UI (the console shows its address as the text).
    link = f"{UI}/namespaces/{ns.namespace}/workflows/{spec.job_id}"
    assert link in shown
    assert len(shown) <= 3900


async def test_failed_attempts_a_retry_decision_and_a_cancel_from_the_history(
    stack: Stack, client: Client
) -> None:
    """A step that fails every attempt: its attempts are one line with the last error, the
    person's retry is told with who asked, and the cancel ends the story. Read through the
    operator as the console reads it (the same code path as Telegram)."""
    chat = ALLOWED_USER
    op = stack.operator
    spec = op.planner.exec_job("sh -c 'echo \"no disk <here>\" >&2; exit 3'", chat_id=chat)
    spec = fast_retries(spec, max_attempts=3)
    await op.jobs.start(spec)
    await wait_status(client, spec.job_id, JobState.needs_attention)

    def ask(text: str) -> Incoming:
        return Incoming(user_id=ALLOWED_USER, chat_id=chat, text=text, trusted=True)

    await op.handle(ask(f"/retry {spec.job_id}"))
    await wait_status(client, spec.job_id, JobState.needs_attention, episode=2)
    await op.handle(ask(f"/cancel {spec.job_id}"))
    await wait_status(client, spec.job_id, JobState.cancelled)

    (reply,) = await op.handle(ask(f"/job {spec.job_id}"))
    assert "&lt;here&gt;" in reply.text  # the command's own words, escaped
    shown = console_text(reply.text, reply.buttons)
    print(shown)
    story = shown.partition("Timeline (from the start)\n")[2].splitlines()
    failed_runs = [line for line in story if "attempts 1–2 → failed, the last:" in line]
    assert len(failed_runs) == 2, shown  # the first run of attempts, then the retried one
    assert all("exited with code 3" in line for line in failed_runs), shown
    finals = [line for line in story if "step 1: attempt 3 on " in line]
    assert len(finals) == 2 and all("✗ failed" in line for line in finals), shown
    kinds = [
        next(marker for marker in MARKERS if marker in line)
        for line in story
        if any(marker in line for marker in MARKERS)
    ]
    assert kinds == [
        "accepted",
        "attempts 1–2",
        "attempt 3",
        "⚠️ needs attention",
        f"🔁 retry asked by user {ALLOWED_USER}",
        "▶️ running",
        "attempts 1–2",
        "attempt 3",
        "⚠️ needs attention",
        "⏹ cancel asked",
        "⏹ cancelled",
    ], shown


MARKERS = (
    "accepted",
    "attempts 1–2",
    "attempt 3",
    "⚠️ needs attention",
    f"🔁 retry asked by user {ALLOWED_USER}",
    "▶️ running",
    "⏹ cancel asked",
    "⏹ cancelled",
)
