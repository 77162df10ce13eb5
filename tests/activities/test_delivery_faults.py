"""Delivery through the real notify activity, Temporal retries and python-telegram-bot, against a
Bot API emulator that fails 30% of sends with 429 (retry_after 1 s) or 502: every message
arrives exactly once, in order per chat; a 20,000-character text arrives split; a longer one as
a document; forum topics are kept; a chat that blocked the bot is not retried and is recorded.

The probe workflow sends each chat's messages one after the other (per-chat order is the
caller's sequence, as in a job's notification chain) and the chats in parallel. It runs on its
own task queue, so it never competes with the session stack's workers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.notify import NotifyActivities
from activities.telegram.pacing import ChatPacer
from activities.telegram.parts import OVERFLOW_FILENAME
from activities.telegram.telegram_sender import TelegramSender
from core.domain.messages import ChatMessage
from core.domain.render import esc, html_to_plain
from core.io.db import Database
from core.io.ledger import ReportLedgerStore
from core.io.store import AuditLog
from tests.support.botapi import BotApiEmulator, parse_html, utf16_len
from tests.support.stack import TEST_TOKEN, make_settings
from workflows.job import NOTIFY_RETRY

FORUM = -100_777
TOPIC = 7
BLOCKED = 4242


class Batch(BaseModel):
    chats: list[list[ChatMessage]]


@workflow.defn(name="DeliveryProbe", sandboxed=False)
class DeliveryProbe:
    @workflow.run
    async def run(self, batch: Batch) -> list[str]:
        async def chat_chain(messages: list[ChatMessage]) -> list[str]:
            outcomes = []
            for message in messages:
                try:
                    await workflow.execute_activity(
                        "notify.send",
                        message,
                        start_to_close_timeout=timedelta(seconds=60),
                        retry_policy=NOTIFY_RETRY,
                    )
                    outcomes.append("ok")
                except ActivityError as err:
                    cause = err.cause
                    outcomes.append(
                        cause.type or "?" if isinstance(cause, ApplicationError) else "?"
                    )
            return outcomes

        results = await asyncio.gather(*(chat_chain(m) for m in batch.chats))
        return [outcome for chain in results for outcome in chain]


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TEST_TOKEN) as emu:
        yield emu


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    await database.migrate()
    yield database
    await database.close()


def big_output(chars: int) -> str:
    """Command output as the reporting worker renders it: escaped text inside <pre>, lines."""
    lines, total, n = [], 0, 0
    while total < chars:
        line = f"line {n:05d}: disk /dev/sda{n % 9} at {n % 100}% <ok> & fine"
        lines.append(line)
        total += len(line) + 1
        n += 1
    return "<b>Output</b>\n<pre>" + esc("\n".join(lines)) + "</pre>"


async def test_every_message_arrives_once_in_order_despite_faults(
    client: Client, emulator: BotApiEmulator, db: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, "unused:0", TELEGRAM_BASE_URL=emulator.base_url)
    sender = TelegramSender(settings, pacer=ChatPacer())
    notify = NotifyActivities(sender, ReportLedgerStore(db), AuditLog(db))
    queue = f"delivery-test-{uuid.uuid4().hex[:8]}"

    chats = [101, 102, 103]
    plan = [
        [ChatMessage(chat_id=c, text=f"<b>msg</b> {c}#{i} &amp; more") for i in range(8)]
        for c in chats
    ]
    long_text = big_output(20_000)
    plan[0].insert(4, ChatMessage(chat_id=101, text=long_text))
    huge_text = big_output(40_000)
    plan[1].append(ChatMessage(chat_id=102, text=huge_text))
    plan.append(
        [ChatMessage(chat_id=FORUM, topic_id=TOPIC, text=f"topic {i}") for i in range(3)]
        + [ChatMessage(chat_id=FORUM, topic_id=TOPIC, text=long_text)]
    )
    emulator.set_unreachable(BLOCKED, status=403)
    plan.append([ChatMessage(chat_id=BLOCKED, text="anyone there?")])

    emulator.set_fault_rate(
        0.3, statuses=(429, 502), methods=("sendMessage", "sendDocument"), seed=7, retry_after=1
    )
    async with Worker(
        client,
        task_queue=queue,
        workflows=[DeliveryProbe],
        activities=[notify.send],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    ):
        outcomes = await client.execute_workflow(
            DeliveryProbe.run,
            Batch(chats=plan),
            id=f"delivery-probe-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=120),
        )
    await sender.close()

    assert outcomes[-1] == "ChatUnreachable"
    assert outcomes[:-1] == ["ok"] * (len(outcomes) - 1)
    audit = await AuditLog(db).recent(5)
    assert any(e.action == "delivery_failed" and e.chat_id == BLOCKED for e in audit)
    blocked_calls = [c for c in emulator.calls_to("sendMessage") if c.params["chat_id"] == BLOCKED]
    # A 403 is final: once Telegram said "blocked", nothing is retried (earlier calls may have
    # met an injected 429/502).
    assert [c.status for c in blocked_calls].count(403) == 1 and blocked_calls[-1].status == 403

    # Exactly once, in order: each chat's received sequence is exactly the planned one.
    for messages in plan[:-1]:
        chat = messages[0].chat_id
        got = [m.plain_text or "" for m in emulator.messages_to(chat) if m.method == "sendMessage"]
        expected: list[str] = []
        for message in messages:
            if message.text in (long_text,):
                parts = [m for m in got[len(expected) :] if m.startswith(("Output", "line"))]
                count = 5
                expected += got[len(expected) : len(expected) + count]
                joined = "\n".join(expected[-count:])
                assert _squash(joined) == _squash(html_to_plain(long_text)), "split lost text"
                assert parts, "the long text arrived"
            elif message.text == huge_text:
                expected.append(got[len(expected)])
                assert "attached as a file" in expected[-1]
            else:
                expected.append(html_to_plain(message.text))
        assert got == expected, f"chat {chat}: {got[:3]}…"

    # The long text: five parts, each within Telegram's limit and valid HTML on its own.
    long_parts = [m for m in emulator.messages_to(101) if m.method == "sendMessage"][4:9]
    assert len(long_parts) == 5
    for part in long_parts:
        plain, _ = parse_html(part.text or "")
        assert utf16_len(plain) <= 4096
        assert part.parse_mode == "HTML"

    # The huge text: first part in the chat, the whole as a document, exactly once.
    documents = [m for m in emulator.messages_to(102) if m.method == "sendDocument"]
    assert len(documents) == 1 and documents[0].document_filename == OVERFLOW_FILENAME
    assert (documents[0].document_content or b"").decode() == html_to_plain(huge_text)

    # Forum topic: every part carries the thread id.
    forum = emulator.messages_to(FORUM)
    assert len(forum) == 3 + 5
    assert {m.message_thread_id for m in forum} == {TOPIC}

    delivered = sum(len(emulator.messages_to(c)) for c in [*chats, FORUM])
    attempted = sum(
        1
        for c in [*emulator.calls_to("sendMessage"), *emulator.calls_to("sendDocument")]
        if c.params.get("chat_id") != BLOCKED
    )
    faults = attempted - delivered
    print(f"\ndelivery under 30% faults: {delivered} delivered / {attempted} attempted")
    assert faults > 0, "the fault injection did not fire"


def _squash(text: str) -> str:
    return "".join(text.split())
