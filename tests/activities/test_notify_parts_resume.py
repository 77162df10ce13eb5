"""A job message of several Bot API calls (its text, then the full text as a document) whose
second call fails: the retry sends only what is missing, even when the first attempt's heartbeat
— the SDK's record of how far it got — never reached the server. The notify activity keeps the
count beside its ledger claim."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from activities.telegram.pacing import ChatPacer
from activities.telegram.parts import OVERFLOW_FILENAME
from activities.telegram.telegram_sender import TelegramSender
from core.domain.messages import CardEdit, ChatMessage, JobNotification
from core.io.db import Database
from core.io.ledger import ReportLedgerStore
from core.io.store import AuditLog
from tests.activities.test_delivery_faults import big_output
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings

CHAT = 5151


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'parts.db'}")
    await database.migrate()
    yield database
    await database.close()


def attempt(number: int, beats: list[object]) -> ActivityEnvironment:
    """One attempt of the same notify activity. Its heartbeat details are empty: what the
    earlier attempt heartbeated did not reach the server (throttled, then the attempt failed)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id="job-parts1",
        workflow_run_id="run-1",
        activity_id="7",
        attempt=number,
        heartbeat_details=[],
    )
    env.on_heartbeat = beats.append
    return env


async def test_a_retry_sends_only_the_calls_that_were_not_delivered(
    db: Database, tmp_path: Path
) -> None:
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        settings = make_settings(tmp_path, "unused:0", TELEGRAM_BASE_URL=emulator.base_url)
        sender = TelegramSender(settings, pacer=ChatPacer())
        notify = NotifyActivities(sender, ReportLedgerStore(db), AuditLog(db))
        note = JobNotification(
            job_id="job-parts1",
            status="completed",
            message=ChatMessage(
                chat_id=CHAT, text="✅ job-parts1 · completed\n" + big_output(40_000)
            ),
        )
        emulator.fail_next("sendDocument", 502)  # the text goes through; the file does not
        beats: list[object] = []
        with pytest.raises(ApplicationError, match="Bad Gateway"):
            await attempt(1, beats).run(notify.job_update, note)
        assert beats, "the first attempt heartbeated its progress (which the server never got)"
        texts = [m for m in emulator.sent if m.chat_id == CHAT and m.method == "sendMessage"]
        assert len(texts) == 1 and not [m for m in emulator.sent if m.method == "sendDocument"]

        result = await attempt(2, []).run(notify.job_update, note)
        await sender.close()

    assert result.sent
    to_chat = [m for m in emulator.sent if m.chat_id == CHAT]
    assert [m.method for m in to_chat] == ["sendMessage", "sendDocument"], [
        m.short() for m in to_chat
    ]
    assert to_chat[1].document_filename == OVERFLOW_FILENAME
    entry = await ReportLedgerStore(db).entry("job-parts1")
    assert entry is not None and entry.last_reported_status == "completed"


async def test_a_retry_after_a_hidden_5xx_on_the_result_does_not_edit_the_card_again(
    db: Database, tmp_path: Path
) -> None:
    """The card's edit before the result's send counts as a delivered call: the retry after a
    502 that hid the send's delivery sends the result again (the 5xx left no way to know) but
    does not redo the edit (Telegram would answer "message is not modified")."""
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        settings = make_settings(tmp_path, "unused:0", TELEGRAM_BASE_URL=emulator.base_url)
        sender = TelegramSender(settings, pacer=ChatPacer())
        notify = NotifyActivities(sender, ReportLedgerStore(db), AuditLog(db))
        [card_id] = await sender.send(ChatMessage(chat_id=CHAT, text="🆕 job-parts1 · started"))
        note = JobNotification(
            job_id="job-parts1",
            status="failed",
            message=ChatMessage(chat_id=CHAT, text="❌ job-parts1 · failed\nFailed: boom"),
            card=CardEdit(
                job_id="job-parts1",
                chat_id=CHAT,
                message_id=card_id,
                text="❌ job-parts1 · failed\nplan: shell",
            ),
        )
        emulator.fail_next("sendMessage", 502, applied=True)
        with pytest.raises(ApplicationError, match="Bad Gateway"):
            await attempt(1, []).run(notify.job_update, note)
        result = await attempt(2, []).run(notify.job_update, note)
        await sender.close()

    assert result.sent
    edits = [c for c in emulator.calls if c.method == "editMessageText"]
    assert [c.status for c in edits] == [200], [c.short() for c in edits]
    assert not emulator.not_modified(CHAT)
    results = [m for m in emulator.sent if m.chat_id == CHAT and "· failed" in (m.text or "")]
    assert len(results) == 2  # the hidden delivery, then the retry's (a designed repeat)


async def test_a_card_edit_refused_by_a_5xx_does_not_hold_the_result_back(
    db: Database, tmp_path: Path
) -> None:
    """The card's edit before the result meets a 502: the result goes at once in the same
    attempt (it used to fail the attempt, and the result waited for the activity's retries of
    the edit), and the card is edited after it."""
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        settings = make_settings(tmp_path, "unused:0", TELEGRAM_BASE_URL=emulator.base_url)
        sender = TelegramSender(settings, pacer=ChatPacer())
        notify = NotifyActivities(sender, ReportLedgerStore(db), AuditLog(db))
        [card_id] = await sender.send(ChatMessage(chat_id=CHAT, text="🆕 job-parts1 · started"))
        note = JobNotification(
            job_id="job-parts1",
            status="failed",
            message=ChatMessage(chat_id=CHAT, text="❌ job-parts1 · failed\nFailed: boom"),
            card=CardEdit(
                job_id="job-parts1",
                chat_id=CHAT,
                message_id=card_id,
                text="❌ job-parts1 · failed\nplan: shell",
            ),
        )
        emulator.fail_next("editMessageText", 502)
        result = await attempt(1, []).run(notify.job_update, note)
        await sender.close()

    assert result.sent
    calls = [(c.method, c.status) for c in emulator.calls if c.method != "getMe"]
    assert calls[-3:] == [("editMessageText", 502), ("sendMessage", 200), ("editMessageText", 200)]
