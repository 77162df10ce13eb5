"""A press on an old message whose job moved on removes its buttons once: a second press on the
same message (a double tap, a press sent again) carries the buttons it was pressed on, but they
are gone, and Telegram would answer the edit "message is not modified"."""

from __future__ import annotations

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, User

from bot.telegram_app import _drop_buttons
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN

CHAT = 1010


async def test_a_second_press_on_the_same_old_message_does_not_edit_it_again() -> None:
    dropped: dict[tuple[int, int], bool] = {}
    async with (
        BotApiEmulator(token=TEST_TOKEN) as botapi,
        Bot(TEST_TOKEN, base_url=botapi.base_url) as bot,
    ):
        buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Retry", callback_data="retry:x")]])
        shown = await bot.send_message(CHAT, "⚠️ job-x · needs attention", reply_markup=buttons)
        person = User(CHAT, "Test", is_bot=False)
        for n in range(2):  # both presses were made on the message as it showed its buttons
            query = CallbackQuery(f"cq{n}", person, "chat", message=shown)
            query.set_bot(bot)
            await _drop_buttons(query, dropped)
    answers = [(c.status, c.description) for c in botapi.calls if c.method.startswith("edit")]
    assert answers == [(200, None)], answers
