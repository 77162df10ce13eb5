"""Research from a Telegram chat, end to end: what a person sees when research refuses an inside
address or reads nothing, and a deployment that allows private networks
(RESEARCH_ALLOW_PRIVATE_NETWORKS=true, in its own namespace so the shared stack's research
workers, which refuse, cannot take its tasks)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from temporalio.client import Client

from core.domain.ids import workspace_name
from core.io.devserver import DevServer
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.stack import Stack, own_deployment
from tests.support.web_pages import SECRET, LocalWeb

CHAT = 1003


@pytest.fixture
async def web() -> AsyncIterator[LocalWeb]:
    async with LocalWeb() as server:
        yield server


@dataclass
class Deployment:
    stack: Stack
    botapi: BotApiEmulator


@pytest.fixture(scope="module")
async def private_networks_allowed(
    dev_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    async with own_deployment(
        dev_server.target,
        client,
        tmp_path_factory.mktemp("research-private"),
        "research-private",
        RESEARCH_ALLOW_PRIVATE_NETWORKS="true",
    ) as (stack, botapi, _):
        yield Deployment(stack=stack, botapi=botapi)


async def run_research(botapi: BotApiEmulator, goal: str, chat: int = CHAT) -> SentMessage:
    """Send `/research <goal>` and return the job's result message."""
    tag = f"ref-{uuid.uuid4().hex[:8]}"  # earlier jobs in this chat have their own messages
    botapi.inject_message(f"/research {goal} ({tag})", user_id=chat, chat_id=chat)
    card = await botapi.wait_for(
        lambda m: m.chat_id == chat and "started" in (m.plain_text or "") and tag in m.text
    )
    job_id = job_id_of(card)
    return await botapi.wait_for_shown(
        lambda m: (
            m.chat_id == chat
            and job_id in (m.plain_text or "")
            and "completed" in (m.plain_text or "")
            and "plan:" not in (m.plain_text or "")  # the result, not the card's final state
        ),
        timeout=30,
    )


def job_id_of(message: SentMessage) -> str:
    return (message.plain_text or "").split()[1]


async def test_an_inside_address_is_refused_and_the_person_is_warned(
    stack: Stack, botapi: BotApiEmulator, web: LocalWeb
) -> None:
    url = web.url("/secret")
    done = await run_research(botapi, f"what does {url} say")

    assert web.hits == []
    assert done.plain_text.startswith("⚠️")
    assert "completed with a warning" in done.plain_text
    assert f"Nothing was read — {url}: refused: 127.0.0.1 is a loopback address" in done.plain_text
    notes = (
        stack.settings.workspaces_dir / workspace_name(done.chat_id, job_id_of(done)) / "notes.md"
    ).read_text()
    assert f"`{url}` — refused: 127.0.0.1 is a loopback address" in notes
    assert SECRET not in notes and SECRET not in done.plain_text


async def test_a_research_that_found_nothing_is_not_a_plain_success(
    stack: Stack, botapi: BotApiEmulator
) -> None:
    done = await run_research(botapi, "summarize notes.txt")

    assert "completed with a warning" in done.plain_text
    assert "✅" not in done.plain_text
    assert "no file 'notes.txt' in the workspace" in done.plain_text
    report = (
        stack.settings.workspaces_dir / workspace_name(done.chat_id, job_id_of(done)) / "report.md"
    )
    assert "**Warning:** Nothing was read" in report.read_text()


async def test_with_private_networks_allowed_the_local_page_is_read(
    private_networks_allowed: Deployment, web: LocalWeb
) -> None:
    botapi = private_networks_allowed.botapi
    url = web.url("/secret", "localhost")
    done = await run_research(botapi, f"what does {url} say")

    assert [hit.path for hit in web.hits] == ["/secret"]
    assert done.plain_text.startswith("✅") and "warning" not in done.plain_text
    workspace = private_networks_allowed.stack.settings.workspaces_dir / workspace_name(
        done.chat_id, job_id_of(done)
    )
    assert SECRET in (workspace / "notes.md").read_text()


async def test_research_writes_notes_in_the_job_workspace(
    private_networks_allowed: Deployment,
) -> None:
    botapi, stack = private_networks_allowed.botapi, private_networks_allowed.stack
    chat = 1002
    botapi.inject_message(
        "/research what does https://127.0.0.1:9/nothing say", user_id=1002, chat_id=chat
    )
    card = await botapi.wait_for(lambda m: m.chat_id == chat and "started" in m.plain_text)
    job_id = card.plain_text.split()[1]
    done = await botapi.wait_for_shown(
        lambda m: (
            m.chat_id == chat
            and job_id in m.plain_text
            and "completed" in m.plain_text
            and "plan:" not in m.plain_text
        ),
        timeout=30,
    )
    assert "research" in done.plain_text
    workspace = stack.settings.workspaces_dir / workspace_name(chat, job_id)
    notes = (workspace / "notes.md").read_text()
    assert "could not fetch" in notes and "No LLM is configured" in notes
    assert (workspace / "notes.json").is_file() and (workspace / "report.md").is_file()


async def test_a_long_research_shows_its_progress_on_its_card(
    private_networks_allowed: Deployment, web: LocalWeb
) -> None:
    """A research step that waits on a slow page goes live like a long command: its card shows
    the elapsed time, what it read and what it waits for, then ends with the final state."""
    botapi, settings = private_networks_allowed.botapi, private_networks_allowed.stack.settings
    chat = CHAT
    saved = settings.live_card_after_seconds, settings.live_card_interval_seconds
    settings.live_card_after_seconds, settings.live_card_interval_seconds = 1.0, 1.0
    fast, slow = web.url("/page", "localhost"), web.url("/slow?seconds=6", "localhost")
    try:
        done = await run_research(botapi, f"compare {fast} with {slow}", chat=chat)
    finally:
        settings.live_card_after_seconds, settings.live_card_interval_seconds = saved
    job_id = job_id_of(done)
    card = next(
        m
        for m in botapi.messages_to(chat)
        if job_id in (m.plain_text or "") and "started" in (m.plain_text or "")
    )
    final = await botapi.wait_for_edit(
        lambda e: (
            e.chat_id == chat
            and e.message_id == card.message_id
            and "completed" in (e.plain_text or "")
        ),
        timeout=30,
    )
    edits = [e for e in botapi.edits if e.chat_id == chat and e.message_id == card.message_id]
    live = [e.plain_text or "" for e in edits if "running for" in (e.plain_text or "")]
    assert live, [e.plain_text for e in edits]
    waiting = [text for text in live if f"fetching {slow}" in text]
    assert waiting, live  # what it waits for
    assert any(f"✓ {fast}" in text for text in waiting), live  # and what it already read
    assert len(set(live)) == len(live)  # each edit shows something new
    assert botapi.not_modified(chat) == []
    assert edits[-1].plain_text == final.plain_text and "running for" not in final.plain_text
    assert done.message_id > card.message_id  # the result is a message of its own
