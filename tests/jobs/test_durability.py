"""Durability: a worker process killed with SIGKILL mid-step loses nothing; the step is retried
on a restarted worker and the chat hears about the completion exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client

from core.domain.ids import workspace_name
from core.domain.jobs.models import JobState
from core.io.devserver import DevServer
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import wait_status
from tests.support.namespaces import new_namespace
from tests.support.roles import kill_role, role_env, spawn_role
from tests.support.stack import make_settings, running_stack


@pytest.fixture
async def namespace_client(dev_server: DevServer, client: Client) -> Client:
    return await new_namespace(dev_server.target, client, "durability")


def _spawn_execution_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return spawn_role(["--queue", "execution"], env, log)


async def test_sigkilled_worker_mid_step(
    namespace_client: Client, botapi: BotApiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        namespace_client.service_client.config.target_host,
        TELEGRAM_BASE_URL=botapi.base_url,
        TEMPORAL_NAMESPACE=namespace_client.namespace,
    )
    env = role_env(settings)
    chat = 4001
    async with running_stack(
        settings, namespace_client, queues=("operator", "reporting"), bot=False
    ) as stack:
        first = _spawn_execution_worker(env, tmp_path / "worker1.log")
        second: subprocess.Popen[bytes] | None = None
        try:
            # The step waits for `release` (not for a time): under load it cannot finish before
            # the kill, and the retry finishes only once the test has seen it start.
            spec = stack.operator.planner.exec_job(
                "sh -c 'echo started >> runs; until [ -e release ]; do sleep 0.1; done; "
                "echo survived'",
                chat_id=chat,
            )
            # A dead worker is noticed after this long without an activity heartbeat.
            steps = [
                spec.steps[0].model_copy(update={"heartbeat_timeout_seconds": 3}),
                *spec.steps[1:],
            ]
            spec = spec.model_copy(update={"steps": steps})
            handle = await stack.operator.jobs.start(spec)
            runs = tmp_path / "workspaces" / workspace_name(chat, spec.job_id) / "runs"
            # Generous: the worker starts its secret-free execution child before it polls.
            for _ in range(1200):
                if runs.exists():
                    break
                await asyncio.sleep(0.05)
            assert runs.exists(), (tmp_path / "worker1.log").read_text()[-2000:]
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            await wait_status(namespace_client, spec.job_id, JobState.running)

            second = _spawn_execution_worker(env, tmp_path / "worker2.log")
            for _ in range(1200):
                if runs.read_text().count("started") == 2:
                    break
                await asyncio.sleep(0.05)
            assert runs.read_text().count("started") == 2, (tmp_path / "worker2.log").read_text()
            (runs.parent / "release").touch()
            result = await asyncio.wait_for(handle.result(), 60)
            assert result.state is JobState.completed
            assert "survived" in result.outputs[0].output
            assert runs.read_text().count("started") == 2  # the retry ran on the new worker

            await botapi.wait_for(
                lambda m: m.chat_id == chat and "completed" in m.plain_text, timeout=10
            )
            # The job has ended (its result is in hand), and a workflow waits for each of its
            # sends: a duplicate would already be in the chat.
            completions = [m for m in botapi.messages_to(chat) if "completed" in m.plain_text]
            assert len(completions) == 1
        finally:
            for proc in (first, second):
                if proc is not None:
                    kill_role(proc, signal.SIGTERM)
