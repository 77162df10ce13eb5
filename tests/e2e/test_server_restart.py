"""Durable across a Temporal restart: stopping the dev server mid-job and starting it again on
the same SQLite file resumes the job where it was, and keeps the recurring job's schedule."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.domain.ids import workspace_name
from core.domain.jobs.models import JobState, ScheduleSpec
from core.io.devserver import DevServer, find_temporal_cli
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, free_port, make_settings, running_stack


async def test_restarting_the_dev_server_resumes_jobs_and_schedules(tmp_path: Path) -> None:
    port = free_port()
    db_file = tmp_path / "temporal.db"
    server = DevServer(find_temporal_cli(), port=port, ui_port=None, db_file=db_file)
    await server.start()
    try:
        client = await Client.connect(server.target, data_converter=pydantic_data_converter)
        async with BotApiEmulator(token=TEST_TOKEN) as botapi:
            settings = make_settings(tmp_path, server.target, TELEGRAM_BASE_URL=botapi.base_url)
            async with running_stack(settings, client, bot=False) as stack:
                chat = 5001
                spec = stack.operator.planner.plan(
                    goal="survive a restart",
                    steps=[
                        ("execution", {"command": "sh -c 'echo one >> trail'"}),
                        ("execution", {"command": "sh -c 'sleep 2; echo two >> trail'"}),
                    ],
                    chat_id=chat,
                )
                handle = await stack.operator.jobs.start(spec)
                schedule = stack.operator.planner.exec_job("echo tick", chat_id=chat)
                schedule_id = await stack.operator.schedules.create(
                    schedule, ScheduleSpec(every_seconds=3600)
                )
                trail = tmp_path / "workspaces" / workspace_name(chat, spec.job_id) / "trail"
                for _ in range(200):
                    if trail.exists():
                        break
                    await asyncio.sleep(0.05)

                await server.stop()  # mid-job: step 2 is running or about to
                await asyncio.sleep(1.0)
                await server.start()

                result = await asyncio.wait_for(handle.result(), 60)
                assert result.state is JobState.completed
                assert trail.read_text().splitlines().count("one") == 1  # step 1 not redone
                assert "two" in trail.read_text()
                info = await stack.operator.schedules.describe(schedule_id)
                assert info.every_seconds == 3600 and not info.paused
                await botapi.wait_for(
                    lambda m: (
                        m.chat_id == chat
                        and spec.job_id in m.plain_text
                        and "completed" in m.plain_text
                    ),
                    timeout=30,
                )
    finally:
        await server.stop()
