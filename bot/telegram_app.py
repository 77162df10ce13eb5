"""Telegram transport: python-telegram-bot in front of the operator.

`build_application(settings, operator)` takes the Bot API base URL from settings, so tests point
it at the emulator and deployments at a self-hosted Bot API server.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from activities.senders import html_to_plain, keyboard
from core.render import split_message
from core.settings import Settings

from .commands import all_commands
from .operator import Operator
from .types import Incoming, Reply

log = logging.getLogger(__name__)


def incoming_from(update: Update) -> Incoming:
    chat = update.effective_chat
    user = update.effective_user
    message = update.effective_message
    assert chat is not None
    topic = message.message_thread_id if message is not None and message.is_topic_message else None
    query = update.callback_query
    return Incoming(
        user_id=user.id if user else None,
        chat_id=chat.id,
        chat_type=chat.type,
        topic_id=topic,
        text=message.text if query is None and message is not None else None,
        callback_data=query.data if query is not None else None,
        username=user.username if user else None,
    )


async def send_replies(message: Message, replies: list[Reply]) -> None:
    for reply in replies:
        chunks = split_message(reply.text)
        for index, chunk in enumerate(chunks):
            markup = keyboard(reply.buttons) if index == len(chunks) - 1 else None
            try:
                await message.reply_text(chunk, reply_markup=markup, do_quote=False)
            except BadRequest as exc:
                if "can't parse entities" not in exc.message.lower():
                    raise
                await message.reply_text(
                    html_to_plain(chunk), reply_markup=markup, parse_mode=None, do_quote=False
                )


def build_application(settings: Settings, operator: Operator) -> Application:  # type: ignore[type-arg]
    assert settings.telegram_bot_token is not None
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(True)  # a Cancel press is handled while other work runs
        .get_updates_read_timeout(settings.telegram_poll_timeout + 10)
        .post_init(_post_init)
        .build()
    )

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is None or update.effective_chat is None:
            return
        replies = await operator.handle(incoming_from(update))
        await send_replies(update.effective_message, replies)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or update.effective_chat is None:
            return
        replies = await operator.handle(incoming_from(update))
        toast = next((r.toast for r in replies if r.toast), None)
        await query.answer(text=toast)
        if replies and isinstance(query.message, Message):
            await send_replies(query.message, replies)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error(
            "update handling failed: %s", type(context.error).__name__, exc_info=context.error
        )
        if isinstance(update, Update) and update.effective_message is not None:
            try:
                await update.effective_message.reply_text(
                    "⚠️ Something went wrong on my side; nothing was lost. Try again in a moment."
                )
            except Exception:
                log.warning("could not tell the chat about the error")

    app.add_handler(MessageHandler(filters.TEXT | filters.COMMAND, on_message))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(on_error)
    return app


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    commands = [BotCommand(c.name, c.summary[:256]) for c in all_commands().values() if c.menu]
    try:
        await app.bot.set_my_commands(commands)
    except Exception as exc:
        log.warning("setMyCommands failed: %s", type(exc).__name__)


async def run_telegram(app: Application, stop: asyncio.Event, poll_timeout: float) -> None:  # type: ignore[type-arg]
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=int(poll_timeout))
        log.info("Telegram bot @%s is polling", app.bot.username)
        await stop.wait()
        await app.updater.stop()
        await app.stop()
