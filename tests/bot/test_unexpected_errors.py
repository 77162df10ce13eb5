"""An unexpected error while answering is logged with its traceback and the chat gets one clear
line; in the console, the terminal shows the error's line, never the traceback."""

from __future__ import annotations

import dataclasses
import io
import logging
from pathlib import Path

import pytest

from bot.operator import SOMETHING_WENT_WRONG
from bot.types import Incoming, Reply
from core.io.jobs.client import JobNotFoundError
from core.io.logs import OneLineFormatter
from tests.support.chat_checks import INTERNALS
from tests.support.stack import ALLOWED_USER, Stack


@pytest.mark.parametrize(
    "fault",
    [
        AttributeError("'str' object has no attribute 'choices'"),
        # A LookupError, like "no such job": still a bug, not a refusal.
        KeyError("job_id"),
    ],
    ids=["attribute-error", "key-error"],
)
async def test_a_fault_answers_one_clear_line_and_logs_its_traceback(
    stack: Stack, caplog: pytest.LogCaptureFixture, fault: Exception
) -> None:
    """Only the project's refusals reach the person as "⚠️ <reason>"; anything else is a fault:
    the generic line, and its traceback in the log with the chat's id."""
    op = stack.runtime.operator()

    async def broken(*_: object) -> list[Reply]:
        raise fault

    op.commands["workers"] = dataclasses.replace(op.commands["workers"], handler=broken)
    with caplog.at_level(logging.ERROR):
        replies = await op.handle(
            Incoming(user_id=ALLOWED_USER, chat_id=ALLOWED_USER, text="/workers")
        )
    assert [(r.text, r.toast) for r in replies] == [(SOMETHING_WENT_WRONG, "error")]
    assert not INTERNALS.search(replies[0].text) and type(fault).__name__ not in replies[0].text
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is type(fault)]
    assert logged and f"chat {ALLOWED_USER}" in logged[0].getMessage()


async def test_a_refusal_still_reaches_the_person_as_its_reason(stack: Stack) -> None:
    op = stack.runtime.operator()

    async def refusing(*_: object) -> list[Reply]:
        raise JobNotFoundError("no job job-zzz999 in this chat")

    op.commands["workers"] = dataclasses.replace(op.commands["workers"], handler=refusing)
    replies = await op.handle(Incoming(user_id=ALLOWED_USER, chat_id=ALLOWED_USER, text="/workers"))
    assert [(r.text, r.toast) for r in replies] == [("⚠️ no job job-zzz999 in this chat", "refused")]
    # The heartbeat admin's "none here yet" is a refusal too (a LookupError, as KeyError is).
    [fire] = await op.handle(
        Incoming(user_id=ALLOWED_USER, chat_id=424_242, text="/heartbeat fire")
    )
    assert fire.toast == "refused" and "/heartbeat on creates it" in fire.text


def test_the_console_terminal_gets_the_line_and_the_file_gets_the_traceback(
    tmp_path: Path,
) -> None:
    logger = logging.getLogger("test.console.errors")
    terminal, file = io.StringIO(), io.StringIO()
    short, full = logging.StreamHandler(terminal), logging.StreamHandler(file)
    short.setFormatter(OneLineFormatter("%(levelname)s %(message)s", []))
    full.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(short)
    logger.addHandler(full)
    try:
        try:
            raise AttributeError("boom")
        except AttributeError:
            logger.exception("console message failed")
    finally:
        logger.removeHandler(short)
        logger.removeHandler(full)
    assert terminal.getvalue().strip() == ("ERROR console message failed (details in the log file)")
    assert "Traceback (most recent call last)" in file.getvalue()
