"""HBO_LOG_FORMAT=json: one JSON object per line, with the job, chat, workflow and activity ids
where known, and secrets redacted — checked on a real job run on the session stack."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client

from bot.types import Incoming
from core.domain.jobs.models import JobState
from core.io.logs import JsonFormatter, RedactingFormatter, chat_context, setup_logging
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import wait_status
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack, make_settings


class Lines(logging.Handler):
    """Formats each record when it is emitted (in the emitting task's context, as a stream
    handler does) and keeps the lines."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    handler = Lines(JsonFormatter([TEST_TOKEN]))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_json_lines_of_a_job_carry_its_ids(
    stack: Stack, botapi: BotApiEmulator, client: Client, json_lines: Lines
) -> None:
    chat = 700_000 + uuid.uuid4().int % 100_000
    replies = await stack.operator.handle(
        Incoming(user_id=ALLOWED_USER, chat_id=chat, text="/exec echo json-logs")
    )
    job_id = next(r.job_id for r in replies if r.job_id)
    await wait_status(client, job_id, JobState.completed)

    records = [json.loads(line) for line in json_lines.lines]  # every line parses
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    mine = [r for r in records if r.get("job_id") == job_id]
    # The operator's own line (answering the chat) and the execution activity's.
    started = next(r for r in mine if "started for chat" in r["message"])
    assert started["chat_id"] == chat and started["logger"] == "bot.services"
    running = next(r for r in mine if r["logger"] == "temporalio.activity")
    assert running["workflow_id"] == job_id and running["workflow_type"] == "JobWorkflow"
    assert running["activity_id"] and running["activity_type"]
    assert running["run_id"]
    assert TEST_TOKEN not in "\n".join(json_lines.lines)


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("hbo.test", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_workflow_logger_details_map_to_ids() -> None:
    """`workflow.logger` puts the workflow's details in `extra["temporal_workflow"]`."""
    record = _record(
        "job %s: card edit failed",
        "job-abc",
        temporal_workflow={
            "workflow_id": "job-abc",
            "workflow_type": "JobWorkflow",
            "run_id": "r-1",
            "namespace": "default",
            "task_queue": "operator",
            "attempt": 1,
        },
    )
    line = json.loads(JsonFormatter([]).format(record))
    assert line["job_id"] == "job-abc" and line["workflow_id"] == "job-abc"
    assert line["run_id"] == "r-1" and "activity_id" not in line
    heartbeat = _record(
        "run", temporal_workflow={"workflow_id": "heartbeat-5", "workflow_type": "Heartbeat"}
    )
    line = json.loads(JsonFormatter([]).format(heartbeat))
    assert line["workflow_id"] == "heartbeat-5" and "job_id" not in line


def test_chat_context_and_secrets_in_both_formats() -> None:
    quoted = 'sk-"quoted\\secret'  # JSON escapes these characters: redacted before encoding
    secrets = [TEST_TOKEN, quoted]
    with chat_context(4242):
        try:
            raise RuntimeError(f"bad token {TEST_TOKEN} and key {quoted}")
        except RuntimeError:
            record = _record("calling %s with %s", f"bot{TEST_TOKEN}/getMe", quoted)
            record.exc_info = sys.exc_info()
        json_text = JsonFormatter(secrets).format(record)
    record.exc_text = None
    plain_text = RedactingFormatter("%(message)s", secrets).format(record)
    line = json.loads(json_text)
    assert line["chat_id"] == 4242 and "RuntimeError" in line["exc_info"]
    for text in (json_text, plain_text, line["message"], line["exc_info"]):
        assert TEST_TOKEN not in text and quoted not in text and "quoted\\\\" not in text
    assert "[REDACTED]" in line["message"] and "[REDACTED]" in line["exc_info"]
    # Outside the chat context no chat id is invented.
    assert "chat_id" not in json.loads(JsonFormatter(secrets).format(_record("idle")))


def test_setting_selects_the_json_formatter(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "127.0.0.1:1", HBO_LOG_FORMAT="json")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(settings)
        stream = root.handlers[0]
        assert isinstance(stream.formatter, JsonFormatter)
        buffer = io.StringIO()
        assert isinstance(stream, logging.StreamHandler)
        stream.setStream(buffer)
        logging.getLogger("hbo.test").warning("token %s", TEST_TOKEN)
        line = json.loads(buffer.getvalue().strip())
        assert line["message"] == "token [REDACTED]" and line["level"] == "WARNING"
        # The ids are fields, not also a dict appended to Temporal's messages.
        assert not workflow.logger.workflow_info_on_message
        assert not activity.logger.activity_info_on_message
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        workflow.logger.workflow_info_on_message = True
        activity.logger.activity_info_on_message = True
    with pytest.raises(ValueError):
        make_settings(tmp_path, "127.0.0.1:1", HBO_LOG_FORMAT="xml")


async def test_chat_context_is_per_task() -> None:
    seen: list[int | None] = []

    async def one(chat: int) -> None:
        with chat_context(chat):
            await asyncio.sleep(0.01)
            seen.append(json.loads(JsonFormatter([]).format(_record("x"))).get("chat_id"))

    await asyncio.gather(one(1), one(2))
    assert sorted(seen) == [1, 2]  # type: ignore[type-var]
