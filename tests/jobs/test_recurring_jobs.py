"""Recurring jobs are Temporal Schedules, operable from chat and visible to the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta

import pytest

from bot.types import Incoming
from core.domain.jobs.models import ScheduleSpec
from core.domain.spread import spread_offset
from core.io.devserver import DevServer, find_temporal_cli
from core.io.jobs.schedules import ScheduleError, catchup_window, parse_schedule
from tests.support.botapi import BotApiEmulator
from tests.support.stack import Stack


@pytest.mark.parametrize(
    ("text", "every", "cron", "tz", "rest"),
    [
        ("30m df -h", 1800, None, "UTC", "df -h"),
        ("1h30m uptime", 5400, None, "UTC", "uptime"),
        (
            'cron "0 9 * * 1-5" tz=Europe/Berlin df -h /',
            None,
            "0 9 * * 1-5",
            "Europe/Berlin",
            "df -h /",
        ),
        ("2s echo tick", 2, None, "UTC", "echo tick"),
    ],
)
def test_schedule_syntax(
    text: str, every: int | None, cron: str | None, tz: str, rest: str
) -> None:
    spec, command = parse_schedule(text, "UTC", min_interval_seconds=1)
    assert (spec.every_seconds, spec.cron, spec.timezone, command) == (every, cron, tz, rest)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("often df -h", "not an interval"),
        ('cron "61 9 * * *" df', "not a valid 5-field cron"),
        ("cron 0 9 * * * df", "write cron schedules as"),
        ("1h tz=Mars/Olympus df", "unknown timezone"),
        ("1h", "what should run"),
    ],
)
def test_bad_schedules_are_explained(text: str, error: str) -> None:
    with pytest.raises(ScheduleError, match=error):
        parse_schedule(text, "UTC")


def _cli(dev_server: DevServer, *args: str) -> str:
    out = subprocess.run(
        [find_temporal_cli(), *args, "--address", dev_server.target, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout


async def test_every_creates_a_schedule_that_runs_jobs(
    stack: Stack, botapi: BotApiEmulator, dev_server: DevServer
) -> None:
    chat = 1003

    async def ask(text: str) -> str:
        replies = await stack.operator.handle(Incoming(user_id=chat, chat_id=chat, text=text))
        return "\n".join(r.text for r in replies)

    created = await ask("/every 2s echo scheduled-tick")
    schedule_id = created.split("<b>")[1].split("</b>")[0]
    assert schedule_id.startswith("jobsched-") and "every 2s" in created

    # A run fires on its own and reports like any job, under a run-specific job id.
    done = await botapi.wait_for_shown(
        lambda m: (
            m.chat_id == chat and "scheduled-tick" in m.plain_text and "completed" in m.plain_text
        ),
        timeout=20,
    )
    run_id = done.plain_text.split()[1]
    assert run_id.startswith("job-" + schedule_id.removeprefix("jobsched-") + "-")

    # The CLI sees the same schedule.
    listed = await asyncio.to_thread(_cli, dev_server, "schedule", "list")
    assert schedule_id in listed
    described = json.loads(
        await asyncio.to_thread(
            _cli, dev_server, "schedule", "describe", "--schedule-id", schedule_id
        )
    )
    assert described["schedule"]["policies"]["overlapPolicy"] in (
        "SCHEDULE_OVERLAP_POLICY_SKIP",
        1,
        "Skip",
    )
    # A run the server starts late is late, not skipped: up to one period (at least a minute).
    created_desc = await stack.runtime.client.get_schedule_handle(schedule_id).describe()
    assert created_desc.schedule.policy.catchup_window == timedelta(minutes=1)

    assert schedule_id in await ask("/schedules")
    assert "paused" in await ask(f"/pause {schedule_id}")
    info = await stack.operator.schedules.describe(schedule_id)
    assert info.paused
    # Run now works while paused.
    seen = {m.message_id for m in botapi.messages_to(chat)}
    assert "triggered" in await ask(f"/runnow {schedule_id}")
    await botapi.wait_for(
        lambda m: (
            m.chat_id == chat
            and m.message_id not in seen
            and "scheduled-tick" in m.plain_text
            and "completed" in m.plain_text
        ),
        timeout=20,
    )
    # Read-modify-write update keeps the pause state.
    updated = await stack.operator.schedules.update(
        schedule_id, schedule=ScheduleSpec(every_seconds=3600), metadata={"owner": "ops"}
    )
    assert updated.every_seconds == 3600 and updated.paused and updated.metadata == {"owner": "ops"}
    # Its runs fall at its own stable offset inside the hour (not all schedules at :00).
    desc = await stack.runtime.client.get_schedule_handle(schedule_id).describe()
    interval = desc.schedule.spec.intervals[0]
    assert interval.every == timedelta(hours=1)
    assert (interval.offset or timedelta(0)) == spread_offset(schedule_id, timedelta(hours=1))
    assert desc.schedule.policy.catchup_window == timedelta(hours=1)  # follows the new period
    # Other chats cannot touch it.
    other = await stack.operator.handle(
        Incoming(user_id=1002, chat_id=1002, text=f"/unschedule {schedule_id}")
    )
    assert "no schedule" in other[0].text
    assert "deleted" in await ask(f"/unschedule {schedule_id}")
    assert schedule_id not in await asyncio.to_thread(_cli, dev_server, "schedule", "list")
    assert "no schedule" in await ask(f"/runnow {schedule_id}")


@pytest.mark.parametrize(
    ("schedule", "window"),
    [
        (ScheduleSpec(every_seconds=2), timedelta(minutes=1)),
        (ScheduleSpec(every_seconds=900), timedelta(minutes=15)),
        (ScheduleSpec(every_seconds=86400), timedelta(hours=1)),
        (ScheduleSpec(cron="*/5 * * * *"), timedelta(minutes=5)),
        (ScheduleSpec(cron="0 9 * * *"), timedelta(hours=1)),
    ],
)
def test_a_late_run_may_start_up_to_one_period_late(
    schedule: ScheduleSpec, window: timedelta
) -> None:
    """When many schedules come due at once on a busy server, Temporal starts a run late only
    within the catch-up window and skips it without a word past it: the window is the
    schedule's period (one run late at most, never two for one missed period), between one
    minute and one hour."""
    assert catchup_window(schedule) == window
