"""Tests of the Bot API emulator, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.support.botapi import (
    MAX_DOWNLOAD_BYTES,
    BotApiEmulator,
    EntityParseError,
    InjectedDocument,
    SentMessage,
    parse_html,
    utf16_len,
)

TOKEN = "123:TEST"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url) as b:
        yield b


def _retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ------------------------------------------------------------------ HTML parser (unit)


def test_parse_html_plain_text_and_entities() -> None:
    text, entities = parse_html(
        '<b>bold</b> &lt;x&gt; &amp; <a href="https://e.x/?a=1&amp;b=2">l</a>'
    )
    assert text == "bold <x> & l"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "text_link", "offset": 11, "length": 1, "url": "https://e.x/?a=1&b=2"},
    ]


def test_parse_html_offsets_are_utf16() -> None:
    text, entities = parse_html("😀<i>x</i><tg-spoiler>s</tg-spoiler>&#39;")
    assert text == "😀xs'"
    assert entities == [
        {"type": "italic", "offset": 2, "length": 1},
        {"type": "spoiler", "offset": 3, "length": 1},
    ]
    assert utf16_len("😀") == 2


def test_parse_html_nesting_and_blockquote() -> None:
    text, entities = parse_html(
        '<blockquote expandable><b>a<i>b</i></b></blockquote><span class="tg-spoiler">s</span>'
    )
    assert text == "abs"
    types = [e["type"] for e in entities]
    assert types == ["expandable_blockquote", "bold", "italic", "spoiler"]


@pytest.mark.parametrize(
    "bad",
    [
        "<b>unclosed",
        "<b><i>x</b></i>",
        "x</b>",
        "<foo>x</foo>",
        "1 < 2",
        "a & b",
        "&nbsp;",
        "<span>x</span>",
        "<br/>",
    ],
)
def test_parse_html_rejects(bad: str) -> None:
    with pytest.raises(EntityParseError):
        parse_html(bad)


# ------------------------------------------------------------------ basic methods via PTB


async def test_get_me(emu: BotApiEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123
    assert me.is_bot
    assert me.username == "test_bot"
    assert [c.method for c in emu.calls][:1] == ["getMe"]


async def test_send_message_html(emu: BotApiEmulator, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go:1")]])
    msg = await bot.send_message(
        42, "<b>Hello</b> &amp; welcome", parse_mode=ParseMode.HTML, reply_markup=markup
    )
    assert msg.message_id == 1
    assert msg.chat.id == 42
    assert msg.chat.type == "private"
    assert msg.from_user is not None and msg.from_user.id == 123 and msg.from_user.is_bot
    assert msg.text == "Hello & welcome"
    assert msg.entities[0].type == "bold"
    assert msg.reply_markup == markup

    second = await bot.send_message(42, "again")
    other_chat = await bot.send_message(-100, "group")
    assert second.message_id == 2
    assert other_chat.message_id == 1
    assert other_chat.chat.type == "supergroup"

    sent = emu.sent[0]
    assert sent.method == "sendMessage"
    assert sent.chat_id == 42
    assert sent.text == "<b>Hello</b> &amp; welcome"
    assert sent.plain_text == "Hello & welcome"
    assert sent.parse_mode == "HTML"
    assert sent.callback_data == ["go:1"]
    assert [m.message_id for m in emu.messages_to(42)] == [1, 2]
    assert emu.message(42, 1)["text"] == "Hello & welcome"  # type: ignore[index]


async def test_send_message_validation(emu: BotApiEmulator, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "x" * 4097)
    # 2049 emoji = 4098 UTF-16 code units although len() is 2049.
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "😀" * 2049)
    await bot.send_message(1, "x" * 4096)
    # The limit applies to the text after entity parsing.
    await bot.send_message(1, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1, "")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(1, "<b>open", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(1, "a < b", parse_mode=ParseMode.HTML)
    # Without parse_mode the same text is fine.
    await bot.send_message(1, "a < b & <b>")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            1,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data="d" * 65)]]
            ),
        )
    assert len(emu.sent) == 3
    failed = [c for c in emu.calls if not c.ok]
    assert len(failed) == 6
    assert all(c.status == 400 for c in failed)


async def test_topic_send_carries_thread_id(emu: BotApiEmulator, bot: Bot) -> None:
    msg = await bot.send_message(-1001, "in topic", message_thread_id=7)
    assert msg.message_thread_id == 7
    assert msg.is_topic_message
    assert emu.sent[-1].message_thread_id == 7
    assert emu.messages_to(-1001, message_thread_id=7)[0].text == "in topic"
    assert emu.messages_to(-1001, message_thread_id=8) == []


async def test_send_document_records_file(emu: BotApiEmulator, bot: Bot) -> None:
    payload = b"col1,col2\n1,2\n"
    msg = await bot.send_document(
        42,
        InputFile(payload, filename="report.csv"),
        caption="<i>Report</i>",
        parse_mode=ParseMode.HTML,
        message_thread_id=3,
    )
    assert msg.document is not None
    assert msg.document.file_name == "report.csv"
    assert msg.document.file_size == len(payload)
    assert msg.caption == "Report"
    sent = emu.sent[-1]
    assert sent.method == "sendDocument"
    assert sent.document_filename == "report.csv"
    assert sent.document_size == len(payload)
    assert sent.document_content == payload
    assert sent.caption == "<i>Report</i>"
    assert sent.message_thread_id == 3
    with pytest.raises(BadRequest, match=r"(?i)there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=42, message_id=msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_document(42, InputFile(b"x", filename="a.txt"), caption="c" * 1025)


async def test_edit_message(emu: BotApiEmulator, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    msg = await bot.send_message(5, "v1", reply_markup=markup)
    edited = await bot.edit_message_text("v2", chat_id=5, message_id=msg.message_id)
    assert isinstance(edited, type(msg))
    assert edited.text == "v2"
    assert edited.reply_markup is None  # editMessageText without markup removes it
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("v2", chat_id=5, message_id=msg.message_id)
    # Same text but different formatting is a modification.
    await bot.edit_message_text(
        "<b>v2</b>", chat_id=5, message_id=msg.message_id, parse_mode="HTML"
    )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=5, message_id=999)

    await bot.edit_message_reply_markup(chat_id=5, message_id=msg.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(
            chat_id=5, message_id=msg.message_id, reply_markup=markup
        )
    assert [e.method for e in emu.edits] == [
        "editMessageText",
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    assert emu.edits[-1].callback_data == ["a"]
    assert emu.edits[-1].text == "<b>v2</b>"

    assert await bot.delete_message(5, msg.message_id)
    assert emu.deleted == [(5, msg.message_id)]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(5, msg.message_id)


async def test_misc_methods(emu: BotApiEmulator, bot: Bot) -> None:
    assert await bot.send_chat_action(9, "typing", message_thread_id=2)
    assert emu.chat_actions[0].action == "typing"
    assert emu.chat_actions[0].message_thread_id == 2
    with pytest.raises(BadRequest):
        await bot.send_chat_action(9, "dancing")

    await bot.set_my_commands([("status", "Show status"), ("help", "Help")])
    commands = await bot.get_my_commands()
    assert [c.command for c in commands] == ["status", "help"]
    assert emu.commands()[0] == {"command": "status", "description": "Show status"}
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Name", "x")])
    assert await bot.delete_webhook()

    # Unknown method and wrong token.
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert emu.calls[-1].status == 404


async def test_wrong_token_and_raw_http(emu: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=emu.base_url):
            pass  # pragma: no cover
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{emu.base_url}999:WRONG/getMe")
        assert r.status_code == 401
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        r = await client.post(f"{emu.base_url}{TOKEN}/nope")
        assert r.status_code == 404
        assert r.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        # JSON body, string chat_id and JSON-string reply_markup.
        r = await client.post(
            f"{emu.base_url}{TOKEN}/sendMessage",
            json={
                "chat_id": "77",
                "text": "123",
                "reply_markup": json.dumps(
                    {"inline_keyboard": [[{"text": "t", "url": "https://x"}]]}
                ),
            },
        )
        body = r.json()
        assert body["ok"] is True
        assert body["result"]["text"] == "123"
        assert emu.sent[-1].chat_id == 77
        assert emu.sent[-1].reply_markup == {
            "inline_keyboard": [[{"text": "t", "url": "https://x"}]]
        }
        # Form-encoded with a numeric-looking text stays a string.
        r = await client.post(
            f"{emu.base_url}{TOKEN}/sendMessage", data={"chat_id": "77", "text": "42"}
        )
        assert r.json()["result"]["text"] == "42"


# ------------------------------------------------------------------ faults


async def test_fail_next_429_surfaces_as_retry_after(emu: BotApiEmulator, bot: Bot) -> None:
    emu.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1, "hi")
    assert _retry_seconds(info.value) == 1
    assert emu.sent == []
    assert emu.calls[-1].method == "sendMessage"
    assert emu.calls[-1].status == 429
    await bot.send_message(1, "hi")
    assert len(emu.sent) == 1


async def test_fail_next_5xx_400_403(emu: BotApiEmulator, bot: Bot) -> None:
    emu.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError) as info:
        await bot.send_message(1, "hi")
    assert not isinstance(info.value, BadRequest)
    assert "Bad Gateway" in str(info.value)

    emu.fail_next("sendMessage", status=500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(1, "hi")

    emu.fail_next("sendMessage", status=400, description="message thread not found")
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(1, "hi")
    emu.fail_next("*", status=403, description="bot was blocked by the user")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(1, "typing")
    assert emu.sent == []
    assert [c.status for c in emu.calls[-5:]] == [502, 500, 500, 400, 403]

    # applied=True: delivered, but the client still sees the error (lost response).
    emu.fail_next("sendMessage", status=502, applied=True)
    with pytest.raises(NetworkError):
        await bot.send_message(1, "ghost")
    assert [m.text for m in emu.sent] == ["ghost"]
    assert emu.sent[-1].hidden_status == 502
    assert emu.calls[-1].applied and emu.calls[-1].status == 502

    with pytest.raises(ValueError):
        emu.fail_next("sendMesage")


async def test_fault_rate_is_seeded(emu: BotApiEmulator, bot: Bot) -> None:
    async def run() -> list[int]:
        statuses = []
        for i in range(30):
            try:
                await bot.send_message(1, f"m{i}")
                statuses.append(200)
            except RetryAfter:
                statuses.append(429)
            except NetworkError:
                statuses.append(502)
        return statuses

    emu.set_fault_rate(0.4, statuses=(429, 502), methods=("sendMessage",), seed=7)
    first = await run()
    emu.set_fault_rate(0.4, statuses=(429, 502), methods=("sendMessage",), seed=7)
    second = await run()
    assert first == second
    assert 0 < first.count(200) < 30
    assert {429, 502} <= set(first)
    assert len(emu.sent) == 2 * first.count(200)
    # Other methods are unaffected; rate 0 disables.
    for _ in range(5):
        await bot.send_chat_action(1, "typing")
    emu.set_fault_rate(0)
    await bot.send_message(1, "ok")


async def test_fault_rate_can_hide_delivered_messages_behind_5xx(
    emu: BotApiEmulator, bot: Bot
) -> None:
    """With `applied_share`, some 5xx answers come after the message was recorded: those
    messages carry `hidden_status`; 429s never take effect."""
    emu.set_fault_rate(0.5, statuses=(429, 502), seed=3, applied_share=1.0)
    for i in range(30):
        try:
            await bot.send_message(1, f"m{i}")
        except RetryAfter:
            pass
        except NetworkError:
            pass
    failed = [c for c in emu.calls if c.method == "sendMessage" and not c.ok]
    hidden = [m for m in emu.sent if m.hidden_status is not None]
    assert {c.status for c in failed} == {429, 502}
    assert all(c.retry_after == 1 for c in failed if c.status == 429)
    assert not any(c.applied for c in failed if c.status == 429)
    assert len(hidden) == sum(1 for c in failed if c.status == 502) > 0
    assert {m.hidden_status for m in hidden} == {502}
    assert len(emu.sent) == 30 - sum(1 for c in failed if c.status == 429)


async def test_get_chat_and_unreachable(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_chat(-100200, "supergroup", title="Ops", is_forum=True)
    chat = await bot.get_chat(-100200)
    assert chat.title == "Ops"
    assert chat.is_forum

    emu.set_unreachable(-100300)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(-100300)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(-100300, "x")

    emu.set_unreachable(-100200, status=403)
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked"):
        await bot.send_message(-100200, "x")
    emu.set_unreachable(55, status=403)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(55, "x")
    emu.set_reachable(55)
    await bot.send_message(55, "x")
    assert [m.chat_id for m in emu.sent] == [55]


async def test_strict_chats() -> None:
    async with BotApiEmulator(token=TOKEN, strict_chats=True) as emu:
        async with Bot(TOKEN, base_url=emu.base_url) as bot:
            with pytest.raises(BadRequest, match=r"(?i)chat not found"):
                await bot.get_chat(4242)
            emu.inject_message("hi", user_id=4242, username="alice")
            chat = await bot.get_chat(4242)
            assert chat.type == "private"
            assert chat.username == "alice"


# ------------------------------------------------------------------ updates & waiting


async def test_get_updates_long_poll_wakes_on_injection(emu: BotApiEmulator, bot: Bot) -> None:
    async def inject_later() -> int:
        await asyncio.sleep(0.05)
        return emu.inject_message("hello", user_id=10)

    started = time.monotonic()
    task = asyncio.create_task(inject_later())
    updates = await bot.get_updates(timeout=5)
    assert time.monotonic() - started < 1.0
    update_id = await task
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None
    assert updates[0].message.text == "hello"
    assert updates[0].message.chat.type == "private"

    # Not confirmed yet -> delivered again; confirming with offset drops it.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [update_id]
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    assert emu.pending_updates == []

    # An idle long poll holds for the requested timeout.
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 2.0


async def test_topic_message_and_commands_injection(emu: BotApiEmulator, bot: Bot) -> None:
    emu.inject_message("/status@test_bot now", user_id=10, chat_id=-1005, topic_id=77)
    (update,) = await bot.get_updates()
    msg = update.message
    assert msg is not None
    assert msg.message_thread_id == 77
    assert msg.is_topic_message
    assert msg.chat.type == "supergroup"
    assert msg.chat.is_forum
    assert msg.entities[0].type == "bot_command"
    assert msg.entities[0].length == len("/status@test_bot")


async def test_new_get_updates_terminates_held_one(emu: BotApiEmulator) -> None:
    async with Bot(TOKEN, base_url=emu.base_url) as a, Bot(TOKEN, base_url=emu.base_url) as b:
        held = asyncio.create_task(a.get_updates(timeout=5))
        await emu.wait_for_call("getMe")
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert await b.get_updates(timeout=0) == ()
        with pytest.raises(Conflict):
            await held
        assert time.monotonic() - started < 1.0


async def test_shutdown_releases_held_get_updates() -> None:
    emu = BotApiEmulator(token=TOKEN)
    await emu.start()
    request = HTTPXRequest(read_timeout=10)
    bot = Bot(TOKEN, base_url=emu.base_url, get_updates_request=request)
    await bot.initialize()
    task = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await emu.stop()
    assert await asyncio.wait_for(task, 3) == ()
    assert time.monotonic() - started < 2.0
    await bot.shutdown()


async def test_wait_for(emu: BotApiEmulator, bot: Bot) -> None:
    await bot.send_message(1, "first")

    got = await emu.wait_for(lambda m: m.text == "first", timeout=0.5)
    assert got.message_id == 1

    async def send_later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(2, "second")

    task = asyncio.create_task(send_later())
    got = await emu.wait_for(lambda m: m.chat_id == 2, timeout=2)
    assert isinstance(got, SentMessage)
    assert got.text == "second"
    await task

    with pytest.raises(TimeoutError) as info:
        await emu.wait_for(lambda m: m.text == "never", timeout=0.1)
    assert "first" in str(info.value)
    assert "second" in str(info.value)

    emu.clear()
    assert emu.sent == [] and emu.calls == []


# ------------------------------------------------------------------ full Application


async def test_application_receives_message_and_callback(emu: BotApiEmulator) -> None:
    received: list[str] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        received.append("start")
        await context.bot.send_message(
            update.effective_chat.id,
            "<b>Welcome</b>",
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Ack", callback_data="ack")]]),
            message_thread_id=update.effective_message.message_thread_id
            if update.effective_message
            else None,
        )

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        received.append(update.message.text)
        await update.message.reply_text(f"echo: {update.message.text}", do_quote=True)

    async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        received.append(f"cb:{query.data}")
        await query.answer("done")
        await query.edit_message_text("Acknowledged")

    app: Application = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).build()  # type: ignore[type-arg]
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_callback))

    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)

        emu.inject_message("/start", user_id=501, username="alice")
        welcome = await emu.wait_for(lambda m: m.chat_id == 501, timeout=5)
        assert welcome.plain_text == "Welcome"
        assert welcome.callback_data == ["ack"]

        emu.inject_message("ping", user_id=501)
        echo = await emu.wait_for(lambda m: m.text == "echo: ping", timeout=5)
        assert echo.params.get("reply_parameters", {}).get("message_id") is not None

        emu.inject_callback("ack", user_id=501, message_id=welcome.message_id)
        answer = await emu.wait_for_answer(timeout=5)
        assert answer.text == "done"
        assert answer.data == "ack"
        edit = await emu.wait_for_edit(timeout=5)
        assert edit.message_id == welcome.message_id
        assert edit.text == "Acknowledged"

        emu.inject_message("/start", user_id=600, chat_id=-100900, topic_id=12)
        topic = await emu.wait_for(lambda m: m.chat_id == -100900, timeout=5)
        assert topic.message_thread_id == 12

        started = time.monotonic()
        await app.updater.stop()
        await app.stop()
    assert time.monotonic() - started < 3.0
    assert received == ["start", "ping", "cb:ack", "start"]
    assert not [c for c in emu.calls if c.status not in (200, 409)]


async def test_document_from_a_person_is_downloadable(emu: BotApiEmulator) -> None:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        emu.inject_message(
            "/research summarize notes.txt",
            user_id=42,
            document=InjectedDocument(b"line one\nline two\n", file_name="notes.txt"),
        )
        (update,) = await bot.get_updates(timeout=1)
        message = update.message
        assert message is not None and message.text is None
        assert message.caption == "/research summarize notes.txt"
        assert message.caption_entities[0].type == "bot_command"
        document = message.document
        assert document is not None and document.file_name == "notes.txt"
        assert document.file_size == len(b"line one\nline two\n")

        file = await bot.get_file(document.file_id)
        assert file.file_path is not None and file.file_path.startswith(emu.base_file_url)
        assert bytes(await file.download_as_bytearray()) == b"line one\nline two\n"
        assert len(emu.downloads) == 1

        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("no-such-file")


async def test_reply_to_a_document_carries_it(emu: BotApiEmulator, bot: Bot) -> None:
    emu.inject_message("", user_id=42, document=InjectedDocument(b"x", file_name=None))
    first = emu.last_user_message_id(42)
    emu.inject_message("/exec wc -l notes.txt", user_id=42, reply_to_message_id=first)
    updates = await bot.get_updates(timeout=1)
    bare, reply = (u.message for u in updates)
    assert bare is not None and bare.caption is None and bare.document is not None
    assert bare.document.file_name is None
    assert reply is not None and reply.reply_to_message is not None
    assert reply.reply_to_message.document is not None
    assert reply.reply_to_message.document.file_id == bare.document.file_id
    with pytest.raises(KeyError):
        emu.inject_message("/exec true", user_id=42, reply_to_message_id=999)


async def test_a_file_over_twenty_megabytes_is_refused(emu: BotApiEmulator, bot: Bot) -> None:
    big = InjectedDocument(b"", file_name="big.bin", file_size=MAX_DOWNLOAD_BYTES + 1)
    emu.inject_message("/exec true", user_id=42, document=big)
    (update,) = await bot.get_updates(timeout=1)
    assert update.message is not None and update.message.document is not None
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(update.message.document.file_id)
    assert emu.downloads == []


async def test_download_needs_the_token_and_a_known_path(emu: BotApiEmulator) -> None:
    async with httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{emu.port}/file"
        assert (await http.get(f"{base}/bot{TOKEN}/documents/file_9")).status_code == 404
        assert (await http.get(f"{base}/botWRONG/documents/file_9")).status_code == 401
