"""Buttons under job cards: Telegram callback data stays within its 64 bytes for every id we
make (scheduled runs' ids end in a time with colons), and the console prints each button as a
command that works, the id intact."""

from __future__ import annotations

import pytest

from bot.commands import all_buttons, all_commands
from core.domain.ids import normalize_job_id
from core.domain.jobs.messages import job_buttons
from core.domain.jobs.models import JobState
from core.domain.messages import Button
from core.domain.render import button_command, console_text

SCHEDULED_RUN = "job-nkfyrh-2026-11-30T02:04:00Z"  # what a schedule's run is called
# The longest id a schedule can produce: `jobsched-` + 20 characters, plus the run's time.
LONGEST_SCHEDULED_RUN = "job-" + "x" * 20 + "-2026-11-30T02:04:00Z"
TELEGRAM_CALLBACK_MAX_BYTES = 64


def test_console_prints_a_working_command_with_the_id_intact() -> None:
    text = console_text("card", job_buttons(SCHEDULED_RUN, JobState.needs_attention))
    assert f"[Cancel: /cancel {SCHEDULED_RUN}]" in text
    assert f"[Retry: /retry {SCHEDULED_RUN}]" in text
    assert f"[Reroute: /reroute {SCHEDULED_RUN}]" in text
    assert "T02 04 00Z" not in text


def test_the_printed_command_parses_back_to_the_same_job() -> None:
    command = button_command(f"cancel:{SCHEDULED_RUN}")
    name, _, args = command.removeprefix("/").partition(" ")  # as the operator reads it
    assert name == "cancel"
    assert normalize_job_id(args.split()[0]) == SCHEDULED_RUN


def test_every_button_action_is_printed_as_a_registered_command() -> None:
    commands = all_commands()
    for action in all_buttons():
        name = button_command(f"{action}:x").removeprefix("/").split()[0]
        assert name in commands, f"button {action!r} is printed as /{name}, which is no command"


@pytest.mark.parametrize("state", [JobState.running, JobState.needs_attention])
def test_callback_data_of_scheduled_runs_fits_telegram(state: JobState) -> None:
    for button in job_buttons(LONGEST_SCHEDULED_RUN, state):
        assert len(button.data.encode()) <= TELEGRAM_CALLBACK_MAX_BYTES
        action, _, target = button.data.partition(":")  # how the operator splits it
        assert target == LONGEST_SCHEDULED_RUN and action in all_buttons()


def test_heartbeat_button_is_printed_as_its_command() -> None:
    assert console_text("", [Button(label="Use", data="hb:accept")]).endswith(
        "[Use: /heartbeat infer accept]"
    )
