"""Giving a job a file, end to end: a Telegram document sent with the command as its caption or
replied to with the command, and a console `--attach` of a file under the data folder. The
file is in the job's workspace before its first step runs; bad files get a clear answer and
start nothing. A deployment of its own (namespace, Bot API emulator, a small UPLOAD_MAX_BYTES)
so "nothing started" can be checked per chat."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.console import CONSOLE_CHAT_ID, answer_line
from bot.types import Incoming
from core.domain.ids import workspace_name
from core.domain.jobs.models import JobState
from core.io.devserver import DevServer
from tests.support.botapi import BotApiEmulator, InjectedDocument, SentMessage
from tests.support.jobs import assert_no_job_started, wait_status
from tests.support.stack import Stack, own_deployment
from workflows.job import JobWorkflow

USERS = range(2001, 2011)
LIMIT = 4096
NOTES = b"Quarterly figures: revenue grew 12 percent\nCosts stayed flat\nHiring paused\n"


@dataclass
class Deployment:
    stack: Stack
    botapi: BotApiEmulator
    client: Client

    def workspace(self, chat: int, job_id: str) -> Path:
        return self.stack.settings.workspaces_dir / workspace_name(chat, job_id)


@pytest.fixture(scope="module")
async def files(
    dev_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    async with own_deployment(
        dev_server.target,
        client,
        tmp_path_factory.mktemp("files-data"),
        "files",
        TELEGRAM_ALLOWED_USER_IDS=",".join(str(user) for user in USERS),
        UPLOAD_MAX_BYTES=LIMIT,
    ) as (stack, botapi, namespace_client):
        yield Deployment(stack=stack, botapi=botapi, client=namespace_client)


def after(botapi: BotApiEmulator, chat: int) -> Callable[[SentMessage], bool]:
    """Messages in `chat` newer than the person's last message there."""
    last = botapi.last_user_message_id(chat)
    return lambda m: m.chat_id == chat and m.message_id > last


async def answer(botapi: BotApiEmulator, chat: int) -> SentMessage:
    newer = after(botapi, chat)
    return await botapi.wait_for(newer)


async def card_and_result(botapi: BotApiEmulator, chat: int) -> tuple[SentMessage, SentMessage]:
    newer = after(botapi, chat)
    card = await botapi.wait_for(lambda m: newer(m) and "started" in (m.plain_text or ""))
    job_id = (card.plain_text or "").split()[1]
    result = await botapi.wait_for_shown(
        lambda m: (
            m.chat_id == chat
            and job_id in (m.plain_text or "")
            and "completed" in (m.plain_text or "")
            and "plan:" not in (m.plain_text or "")  # the result, not the card's final state
        ),
        timeout=30,
    )
    return card, result


def job_id_of(message: SentMessage) -> str:
    return (message.plain_text or "").split()[1]


async def test_research_reads_the_document_sent_with_it(files: Deployment) -> None:
    chat = 2001
    files.botapi.inject_message(
        "/research summarize notes.txt",
        user_id=chat,
        document=InjectedDocument(NOTES, file_name="notes.txt"),
    )
    card, done = await card_and_result(files.botapi, chat)

    assert "📎" in card.plain_text and "notes.txt" in card.plain_text
    assert done.plain_text.startswith("✅") and "warning" not in done.plain_text
    assert "Nothing was read" not in done.plain_text
    workspace = files.workspace(chat, job_id_of(done))
    assert (workspace / "notes.txt").read_bytes() == NOTES
    notes = (workspace / "notes.md").read_text()
    assert "[ok] file `notes.txt`" in notes and "Quarterly figures" in notes


async def test_research_reads_a_document_its_goal_does_not_name(files: Deployment) -> None:
    chat = 2010
    files.botapi.inject_message(
        "/research what are the main points here",
        user_id=chat,
        document=InjectedDocument(NOTES, file_name="board-minutes.txt"),
    )
    _, done = await card_and_result(files.botapi, chat)
    assert done.plain_text.startswith("✅") and "warning" not in done.plain_text
    notes = (files.workspace(chat, job_id_of(done)) / "notes.md").read_text()
    assert "[ok] file `board-minutes.txt`" in notes and "Quarterly figures" in notes


async def test_exec_counts_the_lines_of_the_document_sent_with_it(files: Deployment) -> None:
    chat = 2002
    files.botapi.inject_message(
        "/exec wc -l notes.txt",
        user_id=chat,
        document=InjectedDocument(NOTES, file_name="notes.txt"),
    )
    _, done = await card_and_result(files.botapi, chat)
    assert "3 notes.txt" in done.plain_text


async def test_a_command_replying_to_a_document_gets_it(files: Deployment) -> None:
    chat = 2003
    botapi = files.botapi
    botapi.inject_message("", user_id=chat, document=InjectedDocument(NOTES, file_name="q3.csv"))
    document_message = botapi.last_user_message_id(chat)
    told = await answer(botapi, chat)
    assert "no command" in told.plain_text and "reply to the file" in told.plain_text
    assert "q3.csv" in told.plain_text

    botapi.inject_message(
        "/exec grep -c Costs q3.csv", user_id=chat, reply_to_message_id=document_message
    )
    _, done = await card_and_result(botapi, chat)
    assert (files.workspace(chat, job_id_of(done)) / "q3.csv").read_bytes() == NOTES


async def test_an_oversize_document_is_refused_and_nothing_starts(files: Deployment) -> None:
    chat = 2004
    botapi = files.botapi
    big = InjectedDocument(b"x" * (LIMIT + 1), file_name="big.log", file_id="BIG-1")
    downloads = len(botapi.downloads)
    botapi.inject_message("/exec wc -c big.log", user_id=chat, document=big)
    refusal = await answer(botapi, chat)

    assert "big.log is too large" in refusal.plain_text
    assert "4.0 KB" in refusal.plain_text and "Nothing was started" in refusal.plain_text
    assert [c for c in botapi.calls_to("getFile") if c.params["file_id"] == "BIG-1"] == []
    assert len(botapi.downloads) == downloads
    await assert_no_job_started(files.client, files.stack.operator, chat)


@pytest.mark.parametrize(
    ("chat", "text", "document", "expected"),
    [
        (2005, "/exec cat passwd", InjectedDocument(b"x", "../passwd"), "has path parts"),
        (2006, "/exec cat x", InjectedDocument(b"x", file_name=None), "the file has no name"),
        (2007, "/jobs", InjectedDocument(b"x", "a.txt"), "/jobs does not take a file"),
        (2008, "/exec --attach inbox/a.txt cat a.txt", None, "--attach works in the console"),
    ],
)
async def test_bad_input_gets_a_clear_answer_and_starts_nothing(
    files: Deployment, chat: int, text: str, document: InjectedDocument | None, expected: str
) -> None:
    files.botapi.inject_message(text, user_id=chat, document=document)
    refusal = await answer(files.botapi, chat)
    assert refusal.plain_text.startswith("⚠️") and expected in refusal.plain_text
    await assert_no_job_started(files.client, files.stack.operator, chat)


async def test_a_document_telegram_will_not_hand_over_stops_the_job(files: Deployment) -> None:
    chat = 2009
    botapi = files.botapi
    botapi.fail_next("getFile", status=400, description="file is temporarily unavailable")
    botapi.inject_message(
        "/exec cat notes.txt", user_id=chat, document=InjectedDocument(NOTES, "notes.txt")
    )
    newer = after(botapi, chat)
    failed = await botapi.wait_for(lambda m: newer(m) and "was not started" in m.plain_text)
    assert "Telegram did not hand over notes.txt" in failed.plain_text
    await assert_no_job_started(files.client, files.stack.operator, chat)


async def test_console_attaches_a_file_under_the_data_folder_only(
    files: Deployment, tmp_path: Path
) -> None:
    operator = files.stack.operator
    outside = tmp_path / "secret.txt"
    outside.write_text("not for jobs\n")
    screen = io.StringIO()
    await answer_line(operator, f"/exec --attach {outside} cat secret.txt", screen)
    assert "is not a file under the data folder" in screen.getvalue()
    assert "🆕" not in screen.getvalue()  # no job card
    await assert_no_job_started(files.client, operator, CONSOLE_CHAT_ID)

    inbox = files.stack.settings.data_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "notes.txt").write_bytes(NOTES)
    screen = io.StringIO()
    await answer_line(operator, "/exec --attach inbox/notes.txt wc -l notes.txt", screen)
    card = screen.getvalue()
    assert "started" in card and "📎" in card, card
    job_id = card.split()[1]
    await wait_status(files.client, job_id, JobState.completed, timeout=30)
    handle = files.client.get_workflow_handle_for(JobWorkflow.run, job_id)
    result = await handle.result()
    assert "3 notes.txt" in result.outputs[0].output
    workspace = files.workspace(CONSOLE_CHAT_ID, job_id)
    assert (workspace / "notes.txt").read_bytes() == NOTES


async def test_help_says_how_to_give_a_job_a_file(files: Deployment) -> None:
    (reply,) = await files.stack.operator.handle(Incoming(user_id=2010, chat_id=2010, text="/help"))
    assert "--attach" in reply.text and "caption" in reply.text
