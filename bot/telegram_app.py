"""The chat application: python-telegram-bot in front of the operator.

`build_application(settings, operator)` dispatches updates to the handlers with a bot from
`activities.telegram.bot`, so it talks to the Bot API base URL in settings (the emulator in
tests, a self-hosted Bot API server in some deployments) with the same HTTP settings and rate
limiter as the notify sender; replies go out through the same delivery and resume as the notify
activities (`activities.telegram`).
`run_telegram` polls with `bot.polling`, which confirms an update to Telegram only once handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime

from cachetools import TTLCache
from telegram import Bot, BotCommand, CallbackQuery, Document, Message, PhotoSize, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from activities.telegram.bot import APPLICATION_CONNECTIONS, build_bot
from activities.telegram.delivery import TelegramDelivery
from activities.telegram.errors import RateLimited, TelegramFailure, Transient
from activities.telegram.resume import DeliveredParts, send_resuming
from bot.commands import all_commands
from bot.operator import Operator
from bot.polling import UpdatePoller
from bot.types import Attachment, Incoming, Reply
from bot.uploads import UploadError
from core.domain.ids import request_job_id
from core.domain.messages import ChatMessage
from core.io.jobs.client import JobNotFoundError
from core.io.settings import Settings

log = logging.getLogger(__name__)


def incoming_from(
    update: Update, bot_id: int | None = None, bot_username: str | None = None
) -> Incoming:
    """What the operator needs of an update. With `bot_id`, a message gets its `request_key`
    (bot, chat, message id: unique for good, unlike update ids, which Telegram may draw anew
    after a week without updates), so a redelivered message asks for the same job ids.
    `bot_username` lets the operator tell `/exec@this_bot` from `/exec@another_bot`."""
    chat = update.effective_chat
    user = update.effective_user
    message = update.effective_message
    assert chat is not None
    topic = message.message_thread_id if message is not None and message.is_topic_message else None
    query = update.callback_query
    text = None
    request_key = None
    attachments: list[Attachment] = []
    if query is None and message is not None:
        if bot_id is not None:
            request_key = f"{bot_id}:{chat.id}:{message.message_id}"
        text = message.text if message.text is not None else message.caption
        attachments = attachments_of(message)
        replied = message.reply_to_message
        if replied is not None:
            attachments += attachments_of(replied, replied=True)
    return Incoming(
        user_id=user.id if user else None,
        chat_id=chat.id,
        chat_type=chat.type,
        topic_id=topic,
        text=text,
        callback_data=query.data if query is not None else None,
        username=user.username if user else None,
        attachments=attachments,
        request_key=request_key,
        bot_username=bot_username,
    )


def attachments_of(message: Message, replied: bool = False) -> list[Attachment]:
    """The file a message carries: a document (with its name), or a photo (which Telegram
    sends without one)."""
    file: Document | PhotoSize | None = message.document
    if file is None and message.photo:
        file = message.photo[-1]  # the largest size
    if file is None:
        return []
    return [
        Attachment(
            file_id=file.file_id,
            file_name=file.file_name if isinstance(file, Document) else None,
            size=file.file_size,
            replied=replied,
        )
    ]


DOWNLOAD_TIMEOUT_SECONDS = 120.0


async def download(bot: Bot, attachment: Attachment) -> bytes:
    """A document's bytes through the Bot API (`getFile`, then the file URL)."""
    assert attachment.file_id is not None
    name = attachment.file_name or "the file"
    try:
        file = await bot.get_file(attachment.file_id)
        data = await file.download_as_bytearray(read_timeout=DOWNLOAD_TIMEOUT_SECONDS)
    except TelegramError as exc:
        raise UploadError(f"Telegram did not hand over {name} ({exc.message})") from None
    return bytes(data)


# Telegram shows "typing…" for about 5 s after each sendChatAction, or until the bot's next
# message: while the model works on plain words, it is repeated this often.
TYPING_EVERY_SECONDS = 4.0


@contextlib.asynccontextmanager
async def typing_shown(
    bot: Bot, chat_id: int, topic_id: int | None
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Show "typing…" in the chat at once and keep it up until the returned `stop` is awaited
    (or the block ends). Best effort: a failed chat action is logged, never an error."""

    async def keep_up() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING, message_thread_id=topic_id)
            except TelegramError as exc:
                log.info("chat %s: typing not shown: %s", chat_id, type(exc).__name__)
            await asyncio.sleep(TYPING_EVERY_SECONDS)

    task = asyncio.create_task(keep_up())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        yield stop
    finally:
        await stop()


REPLY_ATTEMPTS = 6
# An edited message never re-runs anything; a chat is told so at most once in this period.
EDIT_NOTICE_INTERVAL_SECONDS = 24 * 3600
# How long this process remembers removing a message's old buttons (presses come within minutes).
BUTTONS_DROPPED_SECONDS = 3600
EDIT_NOTICE = (
    "✏️ Edited messages are ignored, so nothing was run again. "
    "To run a changed command, send it as a new message."
)
REPLY_BACKOFF = wait_exponential(multiplier=0.5, max=10.0)  # 0.5 s, 1 s, 2 s, … at most 10 s


def _reply_wait(state: RetryCallState) -> float:
    """A 429 waits its `retry_after`; anything else transient backs off exponentially."""
    failure = state.outcome.exception() if state.outcome is not None else None
    if isinstance(failure, RateLimited):
        return failure.seconds
    return REPLY_BACKOFF(state)


async def deliver(delivery: TelegramDelivery, message: ChatMessage) -> list[int]:
    """Send one reply in-process: a 429 waits its `retry_after`, 5xx and network errors back off
    and retry (resuming after the parts already delivered), a final failure gives up at once.
    Returns the ids of the delivered messages."""
    delivered = DeliveredParts()
    retrying = AsyncRetrying(
        stop=stop_after_attempt(REPLY_ATTEMPTS),
        wait=_reply_wait,
        retry=retry_if_exception_type((RateLimited, Transient)),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await send_resuming(delivery, message, delivered)
    except TelegramFailure as failure:
        log.warning("reply to chat %s not delivered: %s", message.chat_id, failure.message)
    return delivered.ids


def reply_message(msg: Incoming, reply: Reply) -> ChatMessage:
    """A reply goes to the chat (and forum topic) it answers."""
    return ChatMessage(
        chat_id=msg.chat_id,
        topic_id=msg.topic_id,
        text=reply.text,
        buttons=reply.buttons,
        document_text=reply.document_text,
        document_name=reply.document_name,
    )


def build_application(
    settings: Settings, operator: Operator, on_poll: Callable[[], None] | None = None
) -> Application:  # type: ignore[type-arg]
    bot = build_bot(
        settings,
        connections=APPLICATION_CONNECTIONS,
        polling=True,
        on_poll=on_poll,
        defaults=Defaults(parse_mode=ParseMode.HTML),
    )
    # No Updater: `run_telegram` polls itself and hands each update to `process_update`.
    app = ApplicationBuilder().bot(bot).updater(None).build()
    handlers = UpdateHandlers(app, settings, operator)
    app.add_handler(
        MessageHandler(
            (filters.TEXT | filters.COMMAND | filters.Document.ALL | filters.PHOTO)
            & ~filters.UpdateType.EDITED,
            handlers.on_message,
        )
    )
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, handlers.on_edit))
    app.add_handler(CallbackQueryHandler(handlers.on_button))
    app.add_error_handler(handlers.on_error)
    return app


class UpdateHandlers:
    """What the bot does with each kind of update: a message or command, an edit, a button
    press; and what it says when handling one failed."""

    def __init__(self, app: Application, settings: Settings, operator: Operator) -> None:  # type: ignore[type-arg]
        assert settings.telegram_bot_token is not None
        self.app = app
        self.settings = settings
        self.operator = operator
        self._token = settings.telegram_bot_token.get_secret_value()
        self._edit_told: TTLCache[int, bool] = TTLCache(
            maxsize=10_000, ttl=EDIT_NOTICE_INTERVAL_SECONDS
        )
        self.started_at = datetime.now(UTC)
        # Messages whose old buttons this process removed: a second press on the same message
        # (a double tap, a press sent again) carries the buttons it was pressed on, but they
        # are gone, and an edit would change nothing.
        self._buttons_dropped: TTLCache[tuple[int, int], bool] = TTLCache(
            maxsize=10_000, ttl=BUTTONS_DROPPED_SECONDS
        )

    def _delivery(self) -> TelegramDelivery:
        return TelegramDelivery(self.app.bot, self.settings.workspaces_dir, secret=self._token)

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is None or update.effective_chat is None:
            return
        incoming = incoming_from(update, bot_id=self.app.bot.id, bot_username=self.app.bot.username)
        if await self._handled_before(incoming, update.effective_message):
            return
        sender = self._delivery()
        async with contextlib.AsyncExitStack() as typing:
            if self._model_reads(incoming):
                # The model may take seconds: the person sees it working at once.
                stop_typing = await typing.enter_async_context(
                    typing_shown(self.app.bot, incoming.chat_id, incoming.topic_id)
                )

            async def post(reply: Reply) -> list[int]:
                if self._model_reads(incoming):
                    await stop_typing()  # the answer is here
                return await deliver(sender, reply_message(incoming, reply))

            async def fetch(attachment: Attachment) -> bytes:
                return await download(self.app.bot, attachment)

            await self.operator.handle(incoming, post=post, fetch=fetch)

    def _model_reads(self, incoming: Incoming) -> bool:
        """Plain words from an allowed chat, with a model configured: the free-text intake
        hands them to the model (commands and strangers never wait for it)."""
        words = (incoming.text or "").strip()
        return (
            self.settings.llm_enabled
            and bool(words)
            and not words.startswith("/")
            and self.settings.is_allowed_user(incoming.user_id)
            and self.settings.is_allowed_chat(incoming.chat_id, incoming.chat_type)
        )

    async def _handled_before(self, incoming: Incoming, message: Message) -> bool:
        """A message from before this process started may be one an earlier process handled
        but died before confirming to Telegram: when the job it asked for exists, it was
        handled, and is not answered again (no second card). Newer messages cannot be."""
        if incoming.request_key is None or message.date > self.started_at:
            return False
        job_id = request_job_id(incoming.request_key, 0)
        try:
            await self.operator.jobs.describe(job_id)
        except JobNotFoundError:
            return False
        log.info(
            "chat %s: message %s was handled before a restart (job %s); not again",
            incoming.chat_id,
            message.message_id,
            job_id,
            extra={"job_id": job_id},
        )
        return True

    async def on_edit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edit of an earlier message (Telegram sends these as updates too): run nothing;
        tell an allowed chat once that edits are ignored; strangers hear nothing."""
        incoming = incoming_from(update)
        if incoming.chat_id in self._edit_told or not (
            self.settings.is_allowed_user(incoming.user_id)
            and self.settings.is_allowed_chat(incoming.chat_id, incoming.chat_type)
        ):
            return
        self._edit_told[incoming.chat_id] = True
        await deliver(
            self._delivery(),
            ChatMessage(chat_id=incoming.chat_id, topic_id=incoming.topic_id, text=EDIT_NOTICE),
        )

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or update.effective_chat is None:
            return
        incoming = incoming_from(update)
        sender = self._delivery()
        answered = False

        async def post(reply: Reply) -> list[int]:
            nonlocal answered
            if not answered:  # the button's toast first, then the replies
                answered = True
                await _answer(query, reply.toast)
                if reply.stale:
                    await _drop_buttons(query, self._buttons_dropped)
            if not isinstance(query.message, Message):
                return []
            return await deliver(sender, reply_message(incoming, reply))

        await self.operator.handle(incoming, post=post)
        if not answered:
            await _answer(query, None)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error(
            "update handling failed: %s", type(context.error).__name__, exc_info=context.error
        )
        if isinstance(update, Update) and update.effective_message is not None:
            try:
                await update.effective_message.reply_text(
                    "⚠️ Something went wrong on my side; nothing was lost. Try again in a moment."
                )
            except TelegramError as exc:
                log.warning("could not tell the chat about the error: %s", type(exc).__name__)


async def _drop_buttons(
    query: CallbackQuery, dropped: MutableMapping[tuple[int, int], bool]
) -> None:
    """An old message's buttons go once a press finds its job moved on (only when it still
    shows some, and not again after this process removed them: an edit that changes nothing
    is refused by Telegram)."""
    message = query.message
    if not isinstance(message, Message) or not message.reply_markup:
        return
    key = (message.chat_id, message.message_id)
    if key in dropped:
        return
    try:
        await message.edit_reply_markup(reply_markup=None)
    except BadRequest as exc:
        if "message is not modified" in exc.message.lower():
            dropped[key] = True
        log.info("old buttons not removed: %s", type(exc).__name__)
    except TelegramError as exc:  # too old or deleted: the toast said it already
        log.info("old buttons not removed: %s", type(exc).__name__)
    else:
        dropped[key] = True


async def _answer(query: CallbackQuery, toast: str | None) -> None:
    try:
        await query.answer(text=toast[:190] if toast else None)
    except TelegramError as exc:  # an old or repeated press: the replies still matter
        log.info("callback answer failed: %s", type(exc).__name__)


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    commands = [BotCommand(c.name, c.summary[:256]) for c in all_commands().values() if c.menu]
    try:
        await app.bot.set_my_commands(commands)
    except Exception as exc:
        log.warning("setMyCommands failed: %s", type(exc).__name__)


async def run_telegram(app: Application, stop: asyncio.Event, poll_timeout: float) -> None:  # type: ignore[type-arg]
    """Poll until `stop`: each update goes to the application's handlers, and is confirmed to
    Telegram once they are done with it (`bot.polling`)."""
    async with app:
        # `post_init` runs only under run_polling(); this manual start-up sets the menu itself.
        await _post_init(app)
        log.info("Telegram bot @%s is polling", app.bot.username)
        await UpdatePoller(app.bot, app.process_update, poll_timeout).run(stop)
