"""What a newcomer types wrong, answered in one clear line with nothing started: a mistyped
command, a too-long message, a too-frequent or absurd schedule, an oversized goal; and the
help that shows what works (examples, plain phrases)."""

from __future__ import annotations

import asyncio

import pytest

from bot.operator import MAX_MESSAGE_CHARS
from bot.types import Incoming
from core.domain.jobs.models import MAX_GOAL_CHARS
from core.io.jobs.schedules import MIN_INTERVAL_SECONDS
from tests.support.stack import ALLOWED_USER, Stack

CHAT = 4_240_001  # a private chat of its own: nothing else schedules here


async def ask(stack: Stack, text: str, chat: int = CHAT) -> str:
    # The product's default minimum (the shared test stack allows 1-second schedules).
    settings = stack.settings.model_copy(
        update={"schedule_min_interval_seconds": MIN_INTERVAL_SECONDS}
    )
    operator = stack.runtime.operator(settings)
    replies = await operator.handle(Incoming(user_id=ALLOWED_USER, chat_id=chat, text=text))
    assert len(replies) == 1, [r.text for r in replies]
    return replies[0].text


def one_line(text: str) -> None:
    assert "\n" not in text.strip(), text
    assert "Traceback" not in text and "validation error" not in text, text


async def test_a_mistyped_command_suggests_the_nearest(stack: Stack) -> None:
    text = await ask(stack, "/exce ls")
    assert text.startswith("Unknown command /exce — did you mean /exec?"), text
    one_line(text)
    nothing = await ask(stack, "/zzzqqq")
    assert nothing == "Unknown command /zzzqqq. /help lists every command."


async def test_help_lists_the_plain_phrases(stack: Stack) -> None:
    text = await ask(stack, "/help")
    assert "Plain words work too" in text and "what is running?" in text
    assert "run df -h" in text and "cancel job-abc123" in text


async def test_a_long_message_says_what_was_received(stack: Stack) -> None:
    message = "/exec echo " + "x" * 4083  # what a terminal leaves of a longer line
    text = await ask(stack, message)
    assert f"I received {len(message):,} characters" in text
    assert f"the limit is {MAX_MESSAGE_CHARS:,}" in text and "Nothing was started" in text


async def test_a_goal_over_the_limit_is_one_clear_line(stack: Stack) -> None:
    text = await ask(stack, "/exec echo " + "y" * (MAX_GOAL_CHARS + 100))
    assert "too long for one job" in text and f"at most {MAX_GOAL_CHARS:,}" in text, text
    one_line(text)


@pytest.mark.parametrize("interval", ["5s", "59s"])
async def test_a_schedule_below_the_minimum_is_refused(stack: Stack, interval: str) -> None:
    text = await ask(stack, f"/every {interval} uptime")
    assert "too often" in text and "every 1m" in text, text
    assert "SCHEDULE_MIN_INTERVAL_SECONDS" in text
    one_line(text)
    await assert_no_schedule_created(stack, CHAT)


async def assert_no_schedule_created(stack: Stack, chat: int, timeout: float = 20) -> None:
    """Temporal lists schedules a moment after they are created, so "No recurring jobs" right
    after a refusal proves nothing: create one afterwards, wait until it is listed, and only
    then check that it is the chat's only one."""
    control = (await ask(stack, "/every 1m echo control", chat=chat)).split("<b>")[1]
    control = control.split("</b>")[0]
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        listed: list[str] = []
        while control not in listed:
            assert loop.time() < deadline, f"{control} was not listed within {timeout:g}s"
            await asyncio.sleep(0.1)
            listed = [i.schedule_id for i in await stack.operator.schedules.list(chat)]
        assert listed == [control], f"the refused request created a schedule: {listed}"
    finally:
        await ask(stack, f"/unschedule {control}", chat=chat)


async def test_an_absurd_interval_is_one_clear_line(stack: Stack) -> None:
    text = await ask(stack, "/every 99999999999d uptime")
    assert "longer than a year" in text and "cron" in text, text
    one_line(text)


async def test_no_schedules_gives_a_complete_example(stack: Stack) -> None:
    text = await ask(stack, "/schedules", chat=4_240_002)
    assert "<code>/every 1h uptime</code>" in text, text


async def test_a_schedule_at_the_minimum_is_accepted(stack: Stack) -> None:
    chat = 4_240_003
    text = await ask(stack, "/every 1m echo hi", chat=chat)
    schedule_id = text.split("<b>", 1)[1].split("</b>", 1)[0]
    try:
        assert schedule_id.startswith("jobsched-") and "every 1m" in text
    finally:
        await ask(stack, f"/unschedule {schedule_id}", chat=chat)
