"""Job cards in Telegram (the session stack + Bot API emulator): the first reply is edited in
place as the job moves on, buttons follow the state, callback data holds only an id, strangers'
presses change nothing; replies in a forum topic stay in the topic; the command menu and /help
come from the registry."""

from __future__ import annotations

from telegram import Bot
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bot.commands.info import help_text
from bot.telegram_app import deliver, reply_message
from bot.types import Incoming, Reply
from core.domain.jobs.models import JobState
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import wait_status
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack

# Not the e2e tests' stranger: they count that one's audit entries.
STRANGER = 6667


async def test_a_fast_job_is_one_message_its_card_edited_into_the_result(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 1003
    botapi.inject_message("/exec echo fast-card", user_id=1003, chat_id=chat)
    card = await botapi.wait_for(
        lambda m: m.chat_id == chat and "started" in m.plain_text and "fast-card" in m.plain_text
    )
    job_id = (card.plain_text or "").split()[1]
    assert card.callback_data == [f"cancel:{job_id}"]
    final = await botapi.wait_for_edit(
        lambda e: (
            e.chat_id == chat
            and e.message_id == card.message_id
            and "completed" in (e.plain_text or "")
        ),
        timeout=30,
    )
    assert "fast-card" in (final.plain_text or "")  # the output, not only the state
    assert final.inline_keyboard == []  # nothing left to press on a finished job
    await wait_status(client, job_id, JobState.completed)
    others = [m for m in botapi.messages_to(chat) if job_id in (m.plain_text or "")]
    assert [m.message_id for m in others] == [card.message_id]  # one message, not two


async def test_a_slow_job_keeps_its_card_and_gets_the_result_as_a_new_message(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 1003
    botapi.inject_message("/exec sleep 6", user_id=1003, chat_id=chat)
    card = await botapi.wait_for(
        lambda m: m.chat_id == chat and "started" in m.plain_text and "sleep 6" in m.plain_text
    )
    job_id = (card.plain_text or "").split()[1]
    result = await botapi.wait_for(
        lambda m: (
            m.chat_id == chat
            and job_id in (m.plain_text or "")
            and "completed" in (m.plain_text or "")
            and m.message_id != card.message_id
        ),
        timeout=40,
    )
    assert result.message_id > card.message_id  # the result comes after the card
    final = await botapi.wait_for_edit(
        lambda e: (
            e.chat_id == chat
            and e.message_id == card.message_id
            and "completed" in (e.plain_text or "")
        ),
        timeout=10,
    )
    assert final.inline_keyboard == []
    # "message is not modified" and throttling: a handful of edits, never an error to the job.
    edits = [e for e in botapi.edits if e.message_id == card.message_id and e.chat_id == chat]
    assert 1 <= len(edits) <= 4


async def test_a_strangers_button_press_changes_nothing(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 1003  # the e2e tests watch 1001/1002 from the start of the session's records
    botapi.inject_message("/exec sleep 20", user_id=1003, chat_id=chat)
    card = await botapi.wait_for(
        lambda m: m.chat_id == chat and "started" in m.plain_text and "sleep 20" in m.plain_text
    )
    job_id = (card.plain_text or "").split()[1]
    try:
        await wait_status(client, job_id, JobState.running)
        press = botapi.inject_callback(
            f"cancel:{job_id}", user_id=STRANGER, chat_id=chat, message_id=card.message_id
        )
        await botapi.wait_for_answer_to(press)
        # Directly, too: the operator ignores it and records it.
        replies = await stack.operator.handle(
            Incoming(user_id=STRANGER, chat_id=chat, callback_data=f"cancel:{job_id}")
        )
        assert replies == []
        # Both presses have been handled (the bot answers a stranger's press after handling
        # it). A cancel would be in the history at once, however long the job then takes
        # to stop, so look there rather than wait and hope the status has changed.
        handle = client.get_workflow_handle(job_id)
        events = [e.event_type async for e in handle.fetch_history_events()]
        cancelled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in events
        assert not cancelled, "a stranger's press asked the job to cancel"
        desc = await handle.describe()
        assert desc.status is not None and desc.status.name == "RUNNING"
        audit = await stack.runtime.audit.recent(20)
        assert any(e.user_id == STRANGER and e.detail == f"cancel:{job_id}" for e in audit)
    finally:
        await client.get_workflow_handle(job_id).cancel()


async def test_replies_in_a_forum_topic_stay_in_the_topic(
    stack: Stack, botapi: BotApiEmulator
) -> None:
    chat, topic = -100_555, 9
    # Through what the handlers post replies with; the reply takes several messages.
    bot = Bot(TEST_TOKEN, base_url=botapi.base_url)
    from activities.telegram.delivery import TelegramDelivery

    async with bot:
        delivery = TelegramDelivery(bot, stack.settings.workspaces_dir)
        msg = Incoming(user_id=ALLOWED_USER, chat_id=chat, chat_type="supergroup", topic_id=topic)
        long = "\n".join(f"line {i} " + "x" * 60 for i in range(200))
        assert len(await deliver(delivery, reply_message(msg, Reply(text=long)))) >= 2
    sent = botapi.messages_to(chat)
    assert len(sent) >= 2 and {m.message_thread_id for m in sent} == {topic}


async def test_the_menu_and_help_list_every_command(stack: Stack, botapi: BotApiEmulator) -> None:
    await botapi.wait_for_call("setMyCommands", lambda c: c.ok)
    menu = {c["command"] for c in botapi.commands()}
    listed = {c.name for c in stack.operator.commands.values() if c.menu}
    assert menu == listed and {"running", "failed", "done"} <= menu
    text = help_text()
    for command in stack.operator.commands.values():
        if command.menu:
            assert f"/{command.name}" in text
    assert text.count("e.g.") == len(listed)


async def test_a_long_job_card_shows_its_progress_live_and_ends_with_the_final_state(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 1002
    settings = stack.settings
    saved = settings.live_card_after_seconds, settings.live_card_interval_seconds
    settings.live_card_after_seconds, settings.live_card_interval_seconds = 1.0, 1.5
    try:
        botapi.inject_message(
            "/exec sh -c 'for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 1; done'",
            user_id=chat,
            chat_id=chat,
        )
        card = await botapi.wait_for(
            lambda m: m.chat_id == chat and "started" in m.plain_text and "tick-" in m.text
        )
        job_id = (card.plain_text or "").split()[1]
        result = await botapi.wait_for(
            lambda m: (
                m.chat_id == chat
                and m.message_id != card.message_id
                and job_id in (m.plain_text or "")
                and "completed" in (m.plain_text or "")
            ),
            timeout=60,
        )
    finally:
        settings.live_card_after_seconds, settings.live_card_interval_seconds = saved
    await wait_status(client, job_id, JobState.completed)
    edits = [e for e in botapi.edits if e.chat_id == chat and e.message_id == card.message_id]
    live = [e.plain_text or "" for e in edits if "running for" in (e.plain_text or "")]
    assert len(live) >= 2, [e.plain_text for e in edits]
    assert all("tick-" in text for text in live)  # the output's last lines
    assert len(set(live)) == len(live)  # each one shows something new
    assert botapi.not_modified(chat) == []
    final = await botapi.wait_for_edit(
        lambda e: (
            e.chat_id == chat
            and e.message_id == card.message_id
            and "completed" in (e.plain_text or "")
        ),
        timeout=30,
    )
    last = [e for e in botapi.edits if e.chat_id == chat and e.message_id == card.message_id][-1]
    assert last.plain_text == final.plain_text and "running for" not in (final.plain_text or "")
    assert result.message_id > card.message_id  # the result is a new message (the phone rings)
    print("\n--- live card edits ---\n" + "\n---\n".join(live[:3]))


async def test_a_40_second_job_at_the_default_pace_shows_its_progress_and_no_unchanged_edit(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    """At the shipped settings (live after 8 s, an edit at most every 10 s), a 40-second job's
    card shows its progress at least twice, each edit new, and Telegram never answers "not
    modified"; the result is a message of its own."""
    chat = 1003
    assert stack.settings.live_card_after_seconds == 8
    assert stack.settings.live_card_interval_seconds == 10
    botapi.inject_message(
        "/exec sh -c 'for i in $(seq 1 20); do echo beat-$i; sleep 2; done'",
        user_id=chat,
        chat_id=chat,
    )
    card = await botapi.wait_for(
        lambda m: m.chat_id == chat and "started" in m.plain_text and "beat-" in m.text
    )
    job_id = (card.plain_text or "").split()[1]
    await wait_status(client, job_id, JobState.completed, timeout=120)
    result = await botapi.wait_for(
        lambda m: (
            m.chat_id == chat
            and m.message_id != card.message_id
            and job_id in (m.plain_text or "")
            and "completed" in (m.plain_text or "")
        ),
        timeout=30,
    )
    edits = [e for e in botapi.edits if e.chat_id == chat and e.message_id == card.message_id]
    live = [e.plain_text or "" for e in edits if "running for" in (e.plain_text or "")]
    assert len(live) >= 2, [e.plain_text for e in edits]
    assert all("beat-" in text for text in live)
    assert len(set(live)) == len(live)
    assert botapi.not_modified(chat) == []
    assert result.message_id > card.message_id
