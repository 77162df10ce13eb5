"""Editing an old message in Telegram (which sends the edit as an update) re-runs nothing; the
chat is told once that edits are ignored."""

from __future__ import annotations

from bot.telegram_app import EDIT_NOTICE
from tests.support.botapi import BotApiEmulator
from tests.support.stack import Stack

PERSON = 1002  # an allowed user
CHAT = 10_020_035  # a private chat no other test writes to (waits also match earlier messages)


async def test_an_edit_runs_nothing_and_is_explained_once(
    stack: Stack, botapi: BotApiEmulator
) -> None:
    chat = CHAT
    botapi.inject_message("/exec echo edit-original", user_id=PERSON, chat_id=chat)
    await botapi.wait_for_shown(
        lambda m: (
            m.chat_id == chat and "edit-original" in m.plain_text and "completed" in m.plain_text
        ),
        timeout=20,
    )
    original = botapi.last_user_message_id(chat)

    botapi.inject_edited_message(chat, original, "/exec echo edit-rerun")
    notice = await botapi.wait_for(
        lambda m: m.chat_id == chat and "Edited messages" in m.plain_text
    )
    assert notice.plain_text == EDIT_NOTICE
    botapi.inject_edited_message(chat, original, "/exec echo edit-rerun-again")

    # A new message afterwards still runs; by its result both edits have been handled.
    botapi.inject_message("/exec echo after-the-edits", user_id=PERSON, chat_id=chat)
    await botapi.wait_for_shown(
        lambda m: (
            m.chat_id == chat and "after-the-edits" in m.plain_text and "completed" in m.plain_text
        ),
        timeout=20,
    )
    texts = [m.plain_text for m in botapi.shown(chat)]  # sent, and cards as edited
    assert not [t for t in texts if "edit-rerun" in t], texts  # no card, no result
    assert sum("Edited messages" in t for t in texts) == 1, texts
    assert sum("edit-original" in t and "completed" in t for t in texts) == 1, texts
