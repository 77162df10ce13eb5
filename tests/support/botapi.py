"""An in-process Telegram Bot API emulator for tests.

The emulator is a small aiohttp server bound to ``127.0.0.1`` on an ephemeral port, running in
the *current* event loop (no threads). The real python-telegram-bot stack (``telegram.Bot`` /
``telegram.ext.Application``) talks to it over real HTTP by pointing ``base_url`` at it::

    async with BotApiEmulator(token="123:TEST") as emu:
        bot = telegram.Bot("123:TEST", base_url=emu.base_url)
        ...
        emu.inject_message("/start", user_id=42)
        reply = await emu.wait_for(lambda m: m.chat_id == 42)

What it does:

* Serves the subset of Bot API methods the operator uses (``getMe``, ``getUpdates`` with long
  polling, ``sendMessage``, ``editMessageText``, ``sendDocument``, ``sendPhoto``, ...) with
  Telegram-shaped responses and Telegram-shaped errors (message too long, HTML entity parse
  errors, "message is not modified", chat not found, ...).
* Records what the bot did (:attr:`BotApiEmulator.sent`, :attr:`~BotApiEmulator.edits`,
  :attr:`~BotApiEmulator.calls`, ...) and lets tests await it (:meth:`BotApiEmulator.wait_for`).
* Injects user traffic (:meth:`BotApiEmulator.inject_message`,
  :meth:`BotApiEmulator.inject_callback`) that the bot receives through ``getUpdates``; a
  message may carry a document (:class:`InjectedDocument`) and reply to an earlier message.
* Serves files: ``getFile`` and the download path ``/file/bot<token>/<file_path>`` for
  documents people sent (and documents the bot sent), refusing files over 20 MB as Telegram
  does (:attr:`BotApiEmulator.downloads` records what was downloaded).
* Injects faults: deterministic (:meth:`BotApiEmulator.fail_next`), seeded-random
  (:meth:`BotApiEmulator.set_fault_rate`) and per-chat (:meth:`BotApiEmulator.set_unreachable`).
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import random
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from aiohttp import web

__all__ = [
    "MAX_CAPTION_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "AnsweredCallback",
    "ApiCall",
    "BotApiEmulator",
    "ChatAction",
    "EntityParseError",
    "InjectedDocument",
    "SentMessage",
    "parse_html",
    "utf16_len",
]

MAX_MESSAGE_LENGTH = 4096
"""Maximum message text length, in UTF-16 code units, after entity parsing."""
MAX_CAPTION_LENGTH = 1024
"""Maximum media caption length, in UTF-16 code units, after entity parsing."""
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
"""Largest file a bot may download with ``getFile`` from Telegram's cloud Bot API."""

_T = TypeVar("_T")

# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class SentMessage:
    """One message the bot sent (``sendMessage`` / ``sendDocument``) or edited.

    For edits (``editMessageText`` / ``editMessageReplyMarkup``) the same class is used;
    ``text`` / ``parse_mode`` / ``reply_markup`` then describe the message *after* the edit.
    """

    method: str
    chat_id: int
    text: str | None
    """The raw text as the bot sent it (HTML tags included); the caption for documents."""
    message_id: int
    message_thread_id: int | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    document_filename: str | None = None
    document_size: int | None = None
    document_mime_type: str | None = None
    document_content: bytes | None = field(default=None, repr=False)
    plain_text: str | None = None
    """The text as Telegram would display it (HTML tags stripped, entities decoded)."""
    params: dict[str, Any] = field(default_factory=dict, repr=False)
    at: float = field(default_factory=time.monotonic)
    hidden_status: int | None = None
    """Set when the call took effect but the bot was answered with this error status (a 5xx
    that hid a delivered message: the one case where a correct client may send it again)."""

    @property
    def caption(self) -> str | None:
        """The document's or photo's caption (``None`` for text messages)."""
        return self.text if self.method in ("sendDocument", "sendPhoto") else None

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of inline keyboard buttons (empty when there is no inline keyboard)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [list(row) for row in rows]

    @property
    def callback_data(self) -> list[str]:
        """All ``callback_data`` values of the inline keyboard, row by row."""
        return [
            str(b["callback_data"])
            for row in self.inline_keyboard
            for b in row
            if "callback_data" in b
        ]

    def short(self) -> str:
        """A one-line description, used in timeout dumps."""
        bits = [f"{self.method} chat={self.chat_id} id={self.message_id}"]
        if self.message_thread_id is not None:
            bits.append(f"thread={self.message_thread_id}")
        if self.document_filename is not None:
            bits.append(f"file={self.document_filename!r} size={self.document_size}")
        text = self.text if self.text is None or len(self.text) <= 120 else self.text[:117] + "..."
        bits.append(f"text={text!r}")
        if self.callback_data:
            bits.append(f"buttons={self.callback_data!r}")
        return " ".join(bits)


@dataclass
class InjectedDocument:
    """A document a person sends (``inject_message(..., document=...)``)."""

    content: bytes = field(repr=False)
    file_name: str | None = "file.txt"
    """``None``: the document has no ``file_name`` (some clients send none)."""
    mime_type: str | None = "text/plain"
    file_id: str | None = None
    """Assigned by the emulator when ``None``."""
    file_size: int | None = None
    """The size the message reports; defaults to ``len(content)``. Set it larger than the
    content to stand for a big file without holding its bytes."""


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    content: bytes
    file_size: int
    file_path: str | None = None


@dataclass
class ApiCall:
    """One HTTP request to the emulator, successful or not."""

    method: str
    params: dict[str, Any]
    status: int
    description: str | None = None
    """The error description for failed calls."""
    at: float = field(default_factory=time.monotonic)
    applied: bool = False
    """The call took effect although it was answered with an error (see ``hidden_status``)."""
    retry_after: int | None = None
    """The ``retry_after`` a 429 answer carried."""

    @property
    def ok(self) -> bool:
        return self.status == 200

    def short(self) -> str:
        params = json.dumps(self.params, default=str, ensure_ascii=False)
        if len(params) > 160:
            params = params[:157] + "..."
        suffix = f" ({self.description})" if self.description else ""
        return f"{self.method} -> {self.status}{suffix} {params}"


@dataclass
class AnsweredCallback:
    """One successful ``answerCallbackQuery`` call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    data: str | None
    """The ``data`` of the injected callback query that was answered."""
    user_id: int | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class ChatAction:
    """One successful ``sendChatAction`` call."""

    chat_id: int
    action: str
    message_thread_id: int | None
    at: float = field(default_factory=time.monotonic)


# --------------------------------------------------------------------------------------------
# HTML entity parsing (a simple but real subset of Telegram's parser)
# --------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Raised by :func:`parse_html` for text Telegram would reject with "can't parse entities"."""


ALLOWED_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "blockquote",
        "span",
    }
)
_TAG_ENTITY_TYPE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME_RE = re.compile(r"([A-Za-z][A-Za-z0-9-]*)(.*)\Z", re.DOTALL)
_ATTR_RE = re.compile(
    r"\s*([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?"
)
_CHAR_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]*);")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit Telegram counts in)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_attrs(raw: str, tag: str, offset: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    raw = raw.rstrip()
    if raw.endswith("/"):
        raise EntityParseError(f'Unsupported self-closing tag "{tag}" at byte offset {offset}')
    while pos < len(raw):
        m = _ATTR_RE.match(raw, pos)
        if not m or m.end() == pos:
            raise EntityParseError(
                f'Can\'t parse attributes of tag "{tag}" at byte offset {offset}'
            )
        name = m.group(1).lower()
        value = next((g for g in m.group(2, 3, 4) if g is not None), "")
        attrs[name] = html.unescape(value)
        pos = m.end()
    return attrs


def _make_entity(tag: str, offset: int, length: int, attrs: dict[str, str]) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": _TAG_ENTITY_TYPE[tag], "offset": offset, "length": length}
    if tag == "a":
        entity["url"] = attrs["href"]
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag in ("pre", "code"):
        cls = attrs.get("class", "")
        if tag == "pre" and cls.startswith("language-"):
            entity["language"] = cls[len("language-") :]
    return entity


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into ``(plain_text, entities)``.

    Entity offsets/lengths are in UTF-16 code units, like the Bot API. Raises
    :class:`EntityParseError` for unknown tags, unbalanced tags, a bare ``<`` or ``&``, and
    unknown character entities. Supported character entities: ``&lt; &gt; &amp; &quot;`` and
    numeric ones (``&#39;``, ``&#x27;``).
    """
    out: list[str] = []
    out_len = 0  # UTF-16 code units emitted so far
    stack: list[tuple[str, int, dict[str, str]]] = []
    found: list[tuple[int, dict[str, Any]]] = []  # (nesting depth, entity)
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            end = text.find(">", i + 1)
            if end == -1:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(text, i)} "
                    "(escape a literal '<' as &lt;)"
                )
            inner = text[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise EntityParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(text, i)}"
                    )
                tag, start, attrs = stack[-1]
                if name != tag:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                        f'expected "</{tag}>", found "</{name}>"'
                    )
                stack.pop()
                length = out_len - start
                if length > 0 and not (tag == "a" and not attrs.get("href")):
                    found.append((len(stack), _make_entity(tag, start, length, attrs)))
            else:
                m = _TAG_NAME_RE.match(inner)
                if not m or (m.group(2) and not m.group(2)[0].isspace()):
                    shown = inner if len(inner) <= 20 else inner[:20] + "..."
                    raise EntityParseError(
                        f'Unsupported start tag "{shown}" at byte offset {_byte_offset(text, i)}'
                    )
                name = m.group(1).lower()
                if name not in ALLOWED_HTML_TAGS:
                    raise EntityParseError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
                    )
                attrs = _parse_attrs(m.group(2), name, _byte_offset(text, i))
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError('Tag "span" must have class "tg-spoiler"')
                stack.append((name, out_len, attrs))
            i = end + 1
        elif ch == "&":
            m = _CHAR_ENTITY_RE.match(text, i)
            if not m:
                raise EntityParseError(
                    f"Bare '&' at byte offset {_byte_offset(text, i)} (escape it as &amp;)"
                )
            body = m.group(1)
            if body.startswith(("#x", "#X")):
                code = int(body[2:], 16)
            elif body.startswith("#"):
                code = int(body[1:])
            elif body.lower() in _NAMED_ENTITIES:
                code = ord(_NAMED_ENTITIES[body.lower()])
            else:
                raise EntityParseError(
                    f'Unsupported HTML entity "&{body};" at byte offset {_byte_offset(text, i)}'
                )
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise EntityParseError(
                    f"Invalid character reference at byte offset {_byte_offset(text, i)}"
                )
            decoded = chr(code)
            out.append(decoded)
            out_len += utf16_len(decoded)
            i = m.end()
        else:
            j = i
            while j < n and text[j] not in "<&":
                j += 1
            chunk = text[i:j]
            out.append(chunk)
            out_len += utf16_len(chunk)
            i = j
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    # Telegram order: by offset, longer first, outer before inner for identical ranges.
    found.sort(key=lambda de: (de[1]["offset"], -de[1]["length"], de[0]))
    entities = [entity for _, entity in found]
    return "".join(out), entities


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------

_STATUS_PREFIX = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Parameters whose form-encoded value is always a plain string (never JSON-decoded).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "data",
        "url",
        "action",
        "language_code",
        "inline_message_id",
        "business_connection_id",
        "title",
        "description",
        "short_description",
        "name",
        "message_effect_id",
        "document",
        "photo",
        "thumbnail",
        "file_id",
    }
)
# Parameters that carry JSON objects/arrays (also accepted as JSON strings in JSON bodies).
_STRUCTURED_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
    }
)

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LEADING_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class _ApiError(Exception):
    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _fault_error(status: int, description: str | None, retry_after: int | None) -> _ApiError:
    prefix = _STATUS_PREFIX.get(status)
    if prefix is None:
        try:
            prefix = HTTPStatus(status).phrase
        except ValueError:
            prefix = f"Error {status}"
    if status == 429:
        ra = 1 if retry_after is None else retry_after
        desc = description or f"{prefix}: retry after {ra}"
        return _ApiError(429, desc, {"retry_after": ra})
    if description is None:
        desc = prefix
        if status == 409:
            desc = (
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running"
            )
    elif status < 500 and not description.startswith(prefix):
        desc = f"{prefix}: {description}"
    else:
        desc = description
    return _ApiError(status, desc)


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    description: str | None
    applied: bool


_HELD_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}
)


@dataclass
class _Hold:
    chat_ids: frozenset[int]
    after_delivery: bool
    released: asyncio.Event
    drop: bool = False


@dataclass
class _FaultRate:
    rate: float
    statuses: tuple[int, ...]
    methods: frozenset[str]
    rng: random.Random
    retry_after: int
    applied_share: float = 0.0


@dataclass
class _Upload:
    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class _Stored:
    message: dict[str, Any]
    raw_text: str | None
    parse_mode: str | None
    from_bot: bool
    kind: str  # "text" | "document" | "photo"


@dataclass
class _IssuedCallback:
    data: str | None
    user_id: int
    answered: bool = False


@dataclass
class _Waiter:
    source: list[Any]
    predicate: Callable[[Any], bool]
    future: asyncio.Future[Any]


MAX_PHOTO_BYTES = 10 * 1024 * 1024
"""Telegram's limit for a photo sent by upload."""


def _image_size(content: bytes) -> tuple[int, int]:
    """(width, height) of a PNG (IHDR) or JPEG (first SOF marker); (0, 0) when neither."""
    if content[:8] == b"\x89PNG\r\n\x1a\n" and content[12:16] == b"IHDR":
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(content) and content[i] == 0xFF:
            marker, length = content[i + 1], int.from_bytes(content[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(content[i + 5 : i + 7], "big")
                return int.from_bytes(content[i + 7 : i + 9], "big"), height
            i += 2 + length
    return 0, 0


_Handler = Callable[[dict[str, Any], dict[str, "_Upload"]], Awaitable[Any]]


def _opt_int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad(f"wrong parameter {name} in request")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"wrong parameter {name} in request") from None


def _opt_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _opt_bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class BotApiEmulator:
    """A Telegram Bot API emulator served over HTTP on 127.0.0.1 in the running event loop.

    Use as ``async with BotApiEmulator(token) as emu:``; pass ``emu.base_url`` as ``base_url``
    to ``telegram.Bot`` / ``ApplicationBuilder().base_url(...)``.

    Chats: by default any chat id is accepted (positive ids are private chats, negative ids
    supergroups) unless marked with :meth:`set_unreachable`. With ``strict_chats=True`` only
    chats registered via :meth:`add_chat` or seen through an injected update are known; the
    rest answer ``400 Bad Request: chat not found``.
    """

    def __init__(
        self,
        token: str = "123:TEST",
        *,
        bot_username: str = "test_bot",
        bot_first_name: str = "Test Bot",
        strict_chats: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        try:
            self.bot_id = int(token.split(":", 1)[0])
        except ValueError:
            self.bot_id = 123
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.strict_chats = strict_chats
        self.host = host

        #: Successful sendMessage / sendDocument / sendPhoto calls, in order.
        self.sent: list[SentMessage] = []
        #: Successful editMessageText / editMessageReplyMarkup calls, in order.
        self.edits: list[SentMessage] = []
        #: Every request, including failed and unknown ones.
        self.calls: list[ApiCall] = []
        #: Successful answerCallbackQuery calls.
        self.answered_callbacks: list[AnsweredCallback] = []
        #: Successful deleteMessage calls as (chat_id, message_id).
        self.deleted: list[tuple[int, int]] = []
        #: Successful sendChatAction calls.
        self.chat_actions: list[ChatAction] = []
        #: File paths served through ``/file/bot<token>/<file_path>``, in order.
        self.downloads: list[str] = []

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False

        self._update_ids = itertools.count(1000)
        self._pending: list[dict[str, Any]] = []
        self._pollers: set[asyncio.Future[str]] = set()
        self._callback_of_update: dict[int, str] = {}
        self._waiters: list[_Waiter] = []

        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._unreachable: dict[int, _ApiError] = {}
        self._next_mid: dict[int, int] = {}
        self._messages: dict[tuple[int, int], _Stored] = {}
        self._callbacks: dict[str, _IssuedCallback] = {}
        self._callback_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._files: dict[str, _File] = {}
        self._file_paths: dict[str, str] = {}  # file_path -> file_id
        self._file_ids = itertools.count(1)

        self._fail_next: dict[str, deque[_Fault]] = {}
        self._fault_rate: _FaultRate | None = None
        self._holding: _Hold | None = None
        self._held_waiting = 0

        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in (
            ("getMe", self._m_get_me),
            ("getUpdates", self._m_get_updates),
            ("deleteWebhook", self._m_delete_webhook),
            ("getWebhookInfo", self._m_get_webhook_info),
            ("setMyCommands", self._m_set_my_commands),
            ("getMyCommands", self._m_get_my_commands),
            ("deleteMyCommands", self._m_delete_my_commands),
            ("sendMessage", self._m_send_message),
            ("editMessageText", self._m_edit_message_text),
            ("editMessageReplyMarkup", self._m_edit_message_reply_markup),
            ("deleteMessage", self._m_delete_message),
            ("answerCallbackQuery", self._m_answer_callback_query),
            ("sendDocument", self._m_send_document),
            ("sendPhoto", self._m_send_photo),
            ("sendChatAction", self._m_send_chat_action),
            ("getChat", self._m_get_chat),
            ("getFile", self._m_get_file),
        ):
            self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- lifecycle

    @property
    def supported_methods(self) -> list[str]:
        return [canonical for canonical, _ in self._methods.values()]

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("BotApiEmulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url``; PTB appends the token and ``/<method>``."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url``; PTB appends the token and ``/<file_path>``."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's User object (as used in ``from`` of the bot's messages)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.setblocking(False)
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self._port = sock.getsockname()[1]

    async def stop(self) -> None:
        """Stop serving. Held ``getUpdates`` calls are released immediately (empty result)."""
        self._closing = True
        self._wake_pollers("shutdown")
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        for waiter in list(self._waiters):
            if not waiter.future.done():
                waiter.future.set_exception(
                    RuntimeError(f"BotApiEmulator stopped while waiting\n{self.describe()}")
                )

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- chats & users

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        is_forum: bool = False,
    ) -> None:
        """Register (or update) a known chat, as returned by ``getChat`` and in messages."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name or "Test"
        else:
            chat["title"] = title or f"Test {chat_type} {chat_id}"
        if username:
            chat["username"] = username
        if is_forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat

    def set_unreachable(
        self, chat_id: int, status: int = 400, description: str | None = None
    ) -> None:
        """Make every chat-targeted method fail for ``chat_id``.

        ``status=400`` → ``Bad Request: chat not found``; ``status=403`` → ``Forbidden: bot was
        blocked by the user`` for private chats, ``Forbidden: bot was kicked from the
        group/supergroup chat`` otherwise. ``description`` overrides the text.
        """
        if description is None:
            if status == 400:
                description = "chat not found"
            elif status == 403:
                chat_type = self._chat_obj(chat_id)["type"]
                if chat_type == "private":
                    description = "bot was blocked by the user"
                elif chat_type == "channel":
                    description = "bot was kicked from the channel chat"
                else:
                    description = f"bot was kicked from the {chat_type} chat"
        self._unreachable[chat_id] = _fault_error(status, description, None)

    def set_reachable(self, chat_id: int) -> None:
        """Undo :meth:`set_unreachable`."""
        self._unreachable.pop(chat_id, None)

    def _chat_obj(self, chat_id: int) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is not None:
            return dict(chat)
        if chat_id > 0:
            user = self._users.get(chat_id, {})
            return {
                "id": chat_id,
                "type": "private",
                "first_name": user.get("first_name", "Test"),
            }
        return {"id": chat_id, "type": "supergroup", "title": f"Test chat {chat_id}"}

    def _user_obj(self, user_id: int) -> dict[str, Any]:
        return dict(
            self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "Test"}
        )

    def _next_message_id(self, chat_id: int) -> int:
        mid = self._next_mid.get(chat_id, 1)
        self._next_mid[chat_id] = mid + 1
        return mid

    # ---------------------------------------------------------------- injection

    def inject_update(self, update: dict[str, Any]) -> int:
        """Queue a raw Update dict (``update_id`` is assigned if missing) and return its id."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        self._pending.append(update)
        self._wake_pollers("update")
        return int(update["update_id"])

    def inject_message(
        self,
        text: str,
        user_id: int,
        chat_id: int | None = None,
        chat_type: str = "private",
        topic_id: int | None = None,
        username: str | None = None,
        first_name: str = "Test",
        *,
        document: InjectedDocument | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Queue a text message from a user; returns the ``update_id``.

        ``chat_id`` defaults to ``user_id`` (a private chat). With ``topic_id`` the chat is a
        forum supergroup and the message carries ``message_thread_id`` / ``is_topic_message``.
        A leading ``/command`` gets a ``bot_command`` entity, so ``CommandHandler`` matches.

        With ``document`` the message is a document and ``text`` its caption (``""``: none;
        the command entity becomes a caption entity); the bot can fetch the file with
        ``getFile``. With ``reply_to_message_id`` the message replies to that earlier message
        of the chat (sent by the bot or injected), carried in ``reply_to_message``.
        """
        if chat_id is None:
            chat_id = user_id
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        self._users[user_id] = user
        if topic_id is not None:
            chat_type = "supergroup"
        existing = self._chats.get(chat_id)
        if (
            existing is None
            or existing["type"] != chat_type
            or (topic_id is not None and not existing.get("is_forum"))
        ):
            self.add_chat(
                chat_id,
                chat_type,
                username=username if chat_type == "private" else None,
                first_name=first_name,
                is_forum=topic_id is not None,
            )
        replied: dict[str, Any] | None = None
        if reply_to_message_id is not None:
            stored_reply = self._messages.get((chat_id, reply_to_message_id))
            if stored_reply is None:
                raise KeyError(f"no message {reply_to_message_id} in chat {chat_id}")
            replied = copy.deepcopy(stored_reply.message)
            replied.pop("reply_to_message", None)  # Telegram nests one level only
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat_obj(chat_id),
            "from": dict(user),
        }
        text_key, entities_key = (
            ("caption", "caption_entities") if document else ("text", "entities")
        )
        if document is None or text:
            message[text_key] = text
        if document is not None:
            message["document"] = self._add_file(document)
        if replied is not None:
            message["reply_to_message"] = replied
        if topic_id is not None:
            message["message_thread_id"] = topic_id
            message["is_topic_message"] = True
        m = _LEADING_COMMAND_RE.match(text)
        if m:
            message[entities_key] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))}
            ]
        self._messages[(chat_id, message["message_id"])] = _Stored(
            message=message,
            raw_text=text,
            parse_mode=None,
            from_bot=False,
            kind="text" if document is None else "document",
        )
        return self.inject_update({"message": message})

    def _add_file(self, document: InjectedDocument) -> dict[str, Any]:
        """Keep a person's document for ``getFile``; returns its Document object."""
        number = next(self._file_ids)
        file_id = document.file_id or f"FILE-{number}"
        size = len(document.content) if document.file_size is None else document.file_size
        self._files[file_id] = _File(
            file_id=file_id,
            file_unique_id=f"UFILE{number}",
            content=document.content,
            file_size=size,
        )
        obj: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"UFILE{number}",
            "file_size": size,
        }
        if document.file_name is not None:
            obj["file_name"] = document.file_name
        if document.mime_type is not None:
            obj["mime_type"] = document.mime_type
        return obj

    def last_user_message_id(self, chat_id: int) -> int:
        """The id of the newest message a person (not the bot) sent in the chat."""
        mids = [
            mid for (cid, mid), s in self._messages.items() if cid == chat_id and not s.from_bot
        ]
        if not mids:
            raise KeyError(f"no user message in chat {chat_id}")
        return max(mids)

    def inject_edited_message(self, chat_id: int, message_id: int, text: str) -> int:
        """Queue an ``edited_message`` update: the person edited their earlier message
        ``message_id`` (as injected) to ``text``; returns the ``update_id``."""
        stored = self._messages.get((chat_id, message_id))
        if stored is None or stored.from_bot:
            raise KeyError(f"no user message {message_id} in chat {chat_id}")
        message = copy.deepcopy(stored.message)
        message["text"] = text
        message["edit_date"] = int(time.time())
        message.pop("entities", None)
        m = _LEADING_COMMAND_RE.match(text)
        if m:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))}
            ]
        stored.message = message
        stored.raw_text = text
        return self.inject_update({"edited_message": message})

    def inject_callback(
        self,
        data: str,
        user_id: int,
        chat_id: int | None = None,
        message_id: int | None = None,
        *,
        username: str | None = None,
        first_name: str = "Test",
    ) -> int:
        """Queue a callback query (an inline button press); returns the ``update_id``.

        ``message_id`` defaults to the latest bot message in the chat; the callback carries
        that message in its current (post-edit) state. A message id the emulator does not know
        (e.g. deleted) is sent as an inaccessible message (``date`` 0), like Telegram does.
        """
        if chat_id is None:
            chat_id = user_id
        if user_id not in self._users or username is not None:
            user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
            if username:
                user["username"] = username
            self._users[user_id] = user
        if message_id is None:
            bot_mids = [
                mid for (cid, mid), s in self._messages.items() if cid == chat_id and s.from_bot
            ]
            if not bot_mids:
                raise ValueError(f"no bot message in chat {chat_id} to attach a callback to")
            message_id = max(bot_mids)
        stored = self._messages.get((chat_id, message_id))
        if stored is not None:
            message = copy.deepcopy(stored.message)
        else:
            message = {"message_id": message_id, "date": 0, "chat": self._chat_obj(chat_id)}
        cq_id = f"cq{next(self._callback_ids)}"
        self._callbacks[cq_id] = _IssuedCallback(data=data, user_id=user_id)
        callback = {
            "id": cq_id,
            "from": self._user_obj(user_id),
            "message": message,
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
        update_id = self.inject_update({"callback_query": callback})
        self._callback_of_update[update_id] = cq_id
        return update_id

    async def wait_for_answer_to(self, update_id: int, timeout: float = 10.0) -> AnsweredCallback:
        """Wait for the ``answerCallbackQuery`` of the press :meth:`inject_callback` queued as
        ``update_id`` (matched by its callback query id, not by whichever press came first)."""
        cq_id = self._callback_of_update[update_id]
        return await self.wait_for_answer(lambda a: a.callback_query_id == cq_id, timeout)

    @property
    def long_polls_held(self) -> int:
        """How many getUpdates calls are waiting for news right now (a long poll in progress)."""
        return len(self._pollers)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates injected but not yet confirmed by a later ``getUpdates`` offset."""
        return list(self._pending)

    def _wake_pollers(self, reason: str) -> None:
        for fut in list(self._pollers):
            if not fut.done():
                fut.set_result(reason)

    # ---------------------------------------------------------------- faults

    def _canonical(self, method: str) -> str:
        if method == "*":
            return method
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(
                f"unknown Bot API method {method!r}; supported: {self.supported_methods}"
            )
        return entry[0]

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        count: int = 1,
        description: str | None = None,
        *,
        applied: bool = False,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``"*"`` = any method) fail.

        429 carries ``parameters.retry_after`` (PTB raises ``RetryAfter``); 400/403/409 get a
        ``"Bad Request: ..."``-style description (``description`` is the part after the colon);
        5xx get the plain status phrase unless ``description`` is given. With ``applied=True``
        the call takes effect (the message *is* delivered and recorded in :attr:`sent`) but the
        client still sees the error — a "lost response" for idempotency tests.
        """
        key = self._canonical(method)
        queue = self._fail_next.setdefault(key, deque())
        for _ in range(count):
            queue.append(_Fault(status, retry_after, description, applied))

    def set_fault_rate(
        self,
        rate: float,
        statuses: Sequence[int] = (429, 502),
        methods: Iterable[str] = ("sendMessage",),
        seed: int = 0,
        retry_after: int = 1,
        applied_share: float = 0.0,
    ) -> None:
        """Fail a seeded-random fraction ``rate`` of calls to ``methods`` (``"*"`` = any).

        The status is drawn uniformly from ``statuses``. ``rate=0`` turns random faults off.
        ``applied_share`` of the 5xx faults take effect before the error is returned (the
        message *is* delivered, marked with ``hidden_status``), like a proxy that times out
        after Telegram accepted the message.
        """
        if rate <= 0:
            self._fault_rate = None
            return
        if not statuses:
            raise ValueError("statuses must not be empty")
        self._fault_rate = _FaultRate(
            rate=rate,
            statuses=tuple(statuses),
            methods=frozenset(self._canonical(m) for m in methods),
            rng=random.Random(seed),
            retry_after=retry_after,
            applied_share=applied_share,
        )

    def hold_sends(self, chat_ids: Iterable[int], *, after_delivery: bool = False) -> None:
        """Hold every send and edit to these chats: the client gets no answer until
        :meth:`release_held`. The call is recorded in :attr:`calls` only once answered. With
        ``after_delivery`` the message is delivered (recorded in :attr:`sent`) first and only
        the answer is held — "sent, but the sender never learnt it"."""
        self._holding = _Hold(frozenset(chat_ids), after_delivery, asyncio.Event())

    @property
    def held(self) -> int:
        """How many calls are waiting in a hold right now."""
        return self._held_waiting

    def release_held(self, *, deliver: bool) -> None:
        """End the hold. ``deliver=False`` answers the waiting calls with a 502 and, unless the
        hold was ``after_delivery``, does not deliver them (their sender is presumed dead)."""
        hold, self._holding = self._holding, None
        if hold is not None:
            hold.drop = not deliver
            hold.released.set()

    def _held_for(self, method: str, params: dict[str, Any]) -> _Hold | None:
        hold = self._holding
        if hold is None or method not in _HELD_METHODS:
            return None
        try:
            chat_id = int(params.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return hold if chat_id in hold.chat_ids else None

    async def _hold(self, hold: _Hold) -> None:
        self._held_waiting += 1
        try:
            await hold.released.wait()
        finally:
            self._held_waiting -= 1
        if hold.drop:
            raise _ApiError(502, "Bad Gateway")

    def clear_faults(self) -> None:
        """Drop queued :meth:`fail_next` faults and the random fault rate."""
        self._fail_next.clear()
        self._fault_rate = None

    def _take_fault(self, method: str) -> _Fault | None:
        for key in (method, "*"):
            queue = self._fail_next.get(key)
            if queue:
                return queue.popleft()
        fr = self._fault_rate
        if fr is not None and (method in fr.methods or "*" in fr.methods):
            if fr.rng.random() < fr.rate:
                status = fr.rng.choice(fr.statuses)
                applied = status >= 500 and fr.rng.random() < fr.applied_share
                return _Fault(status, fr.retry_after, None, applied)
        return None

    # ---------------------------------------------------------------- recording & waiting

    def _record(self, source: list[_T], item: _T) -> None:
        source.append(item)
        for waiter in list(self._waiters):
            if waiter.source is not source or waiter.future.done():
                continue
            try:
                matched = waiter.predicate(item)
            except Exception as exc:
                waiter.future.set_exception(exc)
                continue
            if matched:
                waiter.future.set_result(item)

    def messages_to(self, chat_id: int, message_thread_id: int | None = None) -> list[SentMessage]:
        """Messages sent to ``chat_id`` (optionally only those in one topic)."""
        return [
            m
            for m in self.sent
            if m.chat_id == chat_id
            and (message_thread_id is None or m.message_thread_id == message_thread_id)
        ]

    def calls_to(self, method: str) -> list[ApiCall]:
        """All recorded calls of ``method`` (including failed ones)."""
        return [c for c in self.calls if c.method == method]

    def not_modified(self, chat_id: int | None = None) -> list[ApiCall]:
        """Edits answered "message is not modified" (an edit that changed nothing: a bug)."""
        return [
            c
            for c in self.calls
            if c.method.startswith("editMessage")
            and "message is not modified" in (c.description or "")
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state (after edits) of a message, as a Bot API Message dict."""
        stored = self._messages.get((chat_id, message_id))
        return copy.deepcopy(stored.message) if stored else None

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """Commands set via ``setMyCommands`` for a scope (default scope if ``None``)."""
        return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    def clear(self) -> None:
        """Forget all records (sent, edits, calls, callbacks, deletions, chat actions)."""
        self.sent.clear()
        self.edits.clear()
        self.calls.clear()
        self.answered_callbacks.clear()
        self.deleted.clear()
        self.chat_actions.clear()
        self.downloads.clear()

    async def _wait(
        self,
        source: list[_T],
        predicate: Callable[[_T], bool],
        timeout: float,
        what: str,
    ) -> _T:
        for item in list(source):
            if predicate(item):
                return item
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(source=source, predicate=predicate, future=fut)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await fut  # type: ignore[no-any-return]
        except TimeoutError:
            raise TimeoutError(
                f"no {what} matched within {timeout:g}s\n{self.describe()}"
            ) from None
        finally:
            self._waiters.remove(waiter)

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10.0,
    ) -> SentMessage:
        """Return the first message in :attr:`sent` matching ``predicate`` (already recorded
        ones included), waiting up to ``timeout`` seconds; raise ``TimeoutError`` with a dump of
        what was recorded otherwise."""
        return await self._wait(self.sent, predicate or (lambda _m: True), timeout, "sent message")

    async def wait_for_edit(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10.0,
    ) -> SentMessage:
        """Like :meth:`wait_for` but over :attr:`edits`."""
        return await self._wait(self.edits, predicate or (lambda _m: True), timeout, "edit")

    async def wait_for_shown(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10.0,
    ) -> SentMessage:
        """What the person sees: a message sent, or an earlier one edited, that matches
        ``predicate`` (a fast job's card is edited into its result)."""
        pred = predicate or (lambda _m: True)
        for item in [*self.sent, *self.edits]:
            if pred(item):
                return item
        waits = [
            asyncio.ensure_future(self.wait_for(pred, timeout)),
            asyncio.ensure_future(self.wait_for_edit(pred, timeout)),
        ]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    def shown(self, chat_id: int) -> list[SentMessage]:
        """Messages sent to ``chat_id`` and edits of them, in the order they happened."""
        return sorted(
            (m for m in [*self.sent, *self.edits] if m.chat_id == chat_id), key=lambda m: m.at
        )

    def results_shown(self, chat_id: int, *words: str) -> dict[int, SentMessage]:
        """The distinct messages in ``chat_id`` that show a job's result containing ``words``:
        sent, or a card edited into it (a card still following its job keeps its ``plan:``
        line and is not a result)."""
        found: dict[int, SentMessage] = {}
        for m in self.shown(chat_id):
            text = m.plain_text or ""
            if "completed" in text and "plan:" not in text and all(w in text for w in words):
                found.setdefault(m.message_id, m)
        return found

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 10.0,
    ) -> ApiCall:
        """Wait for a recorded call of ``method`` (any status) matching ``predicate``."""
        pred = predicate or (lambda _c: True)
        return await self._wait(
            self.calls, lambda c: c.method == method and pred(c), timeout, f"{method} call"
        )

    async def wait_for_answer(
        self,
        predicate: Callable[[AnsweredCallback], bool] | None = None,
        timeout: float = 10.0,
    ) -> AnsweredCallback:
        """Wait for an ``answerCallbackQuery`` matching ``predicate``."""
        return await self._wait(
            self.answered_callbacks, predicate or (lambda _a: True), timeout, "callback answer"
        )

    def describe(self, limit: int = 40) -> str:
        """A human-readable dump of recent records (used in ``TimeoutError`` messages)."""
        lines = [f"sent ({len(self.sent)}):"]
        lines += [f"  {m.short()}" for m in self.sent[-limit:]]
        lines.append(f"edits ({len(self.edits)}):")
        lines += [f"  {m.short()}" for m in self.edits[-limit:]]
        lines.append(f"calls ({len(self.calls)}, last {min(limit, len(self.calls))}):")
        lines += [
            f"  {c.short()}" for c in self.calls[-limit:] if c.method != "getUpdates" or not c.ok
        ]
        lines.append(f"pending updates: {[u['update_id'] for u in self._pending]}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        download = re.fullmatch(r"/file/bot([^/]*)/(.+)", request.path)
        if download is not None:
            return await self._download(*download.groups())
        m = re.fullmatch(r"/bot([^/]*)/([^/]+)", request.path)
        if m is None:
            return self._respond(_ApiError(404, "Not Found"))
        token, method = m.groups()
        logged: dict[str, Any] = {}
        applied = False
        try:
            if token != self.token:
                raise _ApiError(401, "Unauthorized")
            params, files = await self._read_params(request)
            logged = dict(params)
            for key, up in files.items():
                logged[key] = {"filename": up.filename, "size": len(up.content)}
            entry = self._methods.get(method.lower())
            if entry is None:
                raise _ApiError(404, "Not Found")
            method, handler = entry
            fault = self._take_fault(method)
            if fault is not None and not fault.applied:
                raise _fault_error(fault.status, fault.description, fault.retry_after)
            held = self._held_for(method, params)
            if held is not None and not held.after_delivery:
                await self._hold(held)  # the client waits; dropped: never delivered
            before = len(self.sent), len(self.edits)
            result = await handler(params, files)
            if held is not None and held.after_delivery:
                await self._hold(held)  # delivered, but the answer waits (or never comes)
            if fault is not None:  # applied: the call took effect but the client sees an error
                for record in self.sent[before[0] :] + self.edits[before[1] :]:
                    record.hidden_status = fault.status
                applied = True
                raise _fault_error(fault.status, fault.description, fault.retry_after)
        except _ApiError as exc:
            retry_after = (exc.parameters or {}).get("retry_after")
            self._record(
                self.calls,
                ApiCall(
                    method,
                    logged,
                    exc.status,
                    exc.description,
                    applied=applied,
                    retry_after=retry_after,
                ),
            )
            return self._respond(exc)
        self._record(self.calls, ApiCall(method, logged, 200))
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _respond(err: _ApiError) -> web.Response:
        return web.json_response(err.body(), status=err.status)

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, _Upload]]:
        params: dict[str, Any] = {}
        files: dict[str, _Upload] = {}
        for key, qvalue in request.query.items():
            params[key] = self._decode_form_value(key, qvalue)
        if not request.body_exists:
            return params, files
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise _bad("JSON body must be an object")
            for key, value in body.items():
                params[key] = self._decode_json_value(key, value)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, fvalue in form.items():
                if isinstance(fvalue, web.FileField):
                    files[key] = _Upload(
                        field=key,
                        filename=fvalue.filename,
                        content_type=fvalue.content_type,
                        content=fvalue.file.read(),
                    )
                else:
                    text = (
                        bytes(fvalue).decode("utf-8", "replace")
                        if isinstance(fvalue, bytes | bytearray)
                        else str(fvalue)
                    )
                    params[key] = self._decode_form_value(key, text)
        return params, files

    @staticmethod
    def _decode_form_value(key: str, value: str) -> Any:
        # PTB sends strings verbatim and everything else JSON-encoded.
        if key in _STRING_PARAMS:
            return value
        if key == "chat_id":
            try:
                return int(value)
            except ValueError:
                return value
        try:
            return json.loads(value)
        except ValueError:
            return value

    @staticmethod
    def _decode_json_value(key: str, value: Any) -> Any:
        if key in _STRUCTURED_PARAMS and isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {key} JSON object") from None
        if key == "chat_id" and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return value
        return value

    # ---------------------------------------------------------------- shared validation

    def _resolve_chat(self, params: dict[str, Any]) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat_id: int | None = None
        if isinstance(raw, bool):
            chat_id = None
        elif isinstance(raw, int):
            chat_id = raw
        elif isinstance(raw, float) and raw.is_integer():
            chat_id = int(raw)
        elif isinstance(raw, str):
            if raw.startswith("@"):
                for cid, chat in self._chats.items():
                    if chat.get("username", "").lower() == raw[1:].lower():
                        chat_id = cid
                        break
            else:
                try:
                    chat_id = int(raw)
                except ValueError:
                    chat_id = None
        if chat_id is None:
            raise _bad("chat not found")
        err = self._unreachable.get(chat_id)
        if err is not None:
            raise err
        if self.strict_chats and chat_id not in self._chats:
            raise _bad("chat not found")
        return chat_id

    @staticmethod
    def _render(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
        if parse_mode and parse_mode.lower() == "html":
            try:
                return parse_html(text)
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        return text, []

    @staticmethod
    def _check_markup(raw: Any) -> dict[str, Any] | None:
        if raw is None or raw == "":
            return None
        if not isinstance(raw, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            rows = raw["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse inline keyboard markup JSON object")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad("can't parse inline keyboard button: Text must be non-empty")
                    if len(button) < 2:
                        raise _bad(
                            "can't parse inline keyboard button: Text buttons are unallowed in "
                            "the inline keyboard"
                        )
                    data = button.get("callback_data")
                    if data is not None and (
                        not isinstance(data, str)
                        or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                    ):
                        raise _bad("BUTTON_DATA_INVALID")
        return raw

    def _check_text(
        self, params: dict[str, Any], key: str, limit: int, required: bool
    ) -> tuple[str | None, str | None, list[dict[str, Any]], str | None]:
        """Return (raw, plain, entities, parse_mode) for ``text`` / ``caption``."""
        raw = _opt_str(params, key)
        parse_mode = _opt_str(params, "parse_mode") or None
        if raw is None or raw == "":
            if required:
                raise _bad("message text is empty")
            return None, None, [], parse_mode
        plain, entities = self._render(raw, parse_mode)
        if required and not plain.strip():
            raise _bad("message text is empty")
        if utf16_len(plain) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return raw, plain, entities, parse_mode

    def _reply_to(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        mid: int | None = None
        allow = _opt_bool(params, "allow_sending_without_reply")
        if isinstance(reply, dict) and reply.get("message_id") is not None:
            mid = int(reply["message_id"])
            allow = allow or bool(reply.get("allow_sending_without_reply"))
        else:
            mid = _opt_int(params, "reply_to_message_id")
        if mid is None:
            return None
        stored = self._messages.get((chat_id, mid))
        if stored is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        reply_msg = copy.deepcopy(stored.message)
        reply_msg.pop("reply_to_message", None)
        return reply_msg

    def _new_bot_message(
        self, chat_id: int, thread_id: int | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat_obj(chat_id),
            "from": self.bot_user,
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        message.update(extra)
        return message

    def _stored_for_edit(self, params: dict[str, Any]) -> tuple[int, int, _Stored]:
        if params.get("inline_message_id"):
            raise _bad("inline messages are not supported by the emulator")
        chat_id = self._resolve_chat(params)
        mid = _opt_int(params, "message_id")
        if mid is None:
            raise _bad("message identifier is not specified")
        stored = self._messages.get((chat_id, mid))
        if stored is None:
            raise _bad("message to edit not found")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        return chat_id, mid, stored

    # ---------------------------------------------------------------- methods

    async def _m_get_me(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_get_updates(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        offset = _opt_int(params, "offset")
        limit = _opt_int(params, "limit") or 100
        limit = max(1, min(100, limit))
        timeout = params.get("timeout") or 0
        try:
            timeout = max(0.0, float(timeout))
        except (TypeError, ValueError):
            raise _bad("wrong parameter timeout in request") from None
        if offset:
            if offset > 0:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            else:
                self._pending = self._pending[offset:]
        # A newer getUpdates terminates an older held one (Telegram answers the old one 409).
        self._wake_pollers("conflict")
        if not self._pending and timeout > 0 and not self._closing:
            fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._pollers.add(fut)
            try:
                reason = await asyncio.wait_for(fut, timeout)
            except TimeoutError:
                reason = "timeout"
            finally:
                self._pollers.discard(fut)
            if reason == "conflict":
                raise _fault_error(409, None, None)
        return copy.deepcopy(self._pending[:limit])

    async def _m_delete_webhook(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        if _opt_bool(params, "drop_pending_updates"):
            self._pending.clear()
        return True

    async def _m_get_webhook_info(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    @staticmethod
    def _commands_key(scope: Any, language_code: str | None) -> tuple[str, str]:
        if not scope:
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code or ""

    async def _m_set_my_commands(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        clean: list[dict[str, Any]] = []
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = str(cmd.get("command", ""))
            desc = str(cmd.get("description", ""))
            if not _BOT_COMMAND_RE.match(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(desc) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": desc})
        key = self._commands_key(params.get("scope"), _opt_str(params, "language_code"))
        self._commands[key] = clean
        return True

    async def _m_get_my_commands(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        key = self._commands_key(params.get("scope"), _opt_str(params, "language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    async def _m_delete_my_commands(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        key = self._commands_key(params.get("scope"), _opt_str(params, "language_code"))
        self._commands.pop(key, None)
        return True

    async def _m_send_message(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat_id = self._resolve_chat(params)
        raw, plain, entities, parse_mode = self._check_text(
            params, "text", MAX_MESSAGE_LENGTH, required=True
        )
        markup = self._check_markup(params.get("reply_markup"))
        thread_id = _opt_int(params, "message_thread_id")
        reply_to = self._reply_to(chat_id, params)
        extra: dict[str, Any] = {"text": plain}
        if entities:
            extra["entities"] = entities
        if markup and "inline_keyboard" in markup:
            extra["reply_markup"] = markup
        if reply_to:
            extra["reply_to_message"] = reply_to
        message = self._new_bot_message(chat_id, thread_id, extra)
        self._messages[(chat_id, message["message_id"])] = _Stored(
            message=message, raw_text=raw, parse_mode=parse_mode, from_bot=True, kind="text"
        )
        self._record(
            self.sent,
            SentMessage(
                method="sendMessage",
                chat_id=chat_id,
                text=raw,
                message_id=message["message_id"],
                message_thread_id=thread_id,
                parse_mode=parse_mode,
                reply_markup=markup,
                plain_text=plain,
                params=params,
            ),
        )
        return copy.deepcopy(message)

    async def _m_send_document(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat_id = self._resolve_chat(params)
        doc_param = params.get("document")
        upload = files.get("document")
        if upload is None and isinstance(doc_param, str) and doc_param.startswith("attach://"):
            upload = files.get(doc_param[len("attach://") :])
        if upload is None and (doc_param is None or doc_param == ""):
            raise _bad("there is no document in the request")
        if upload is not None and not upload.content:
            raise _bad("file must be non-empty")
        raw, plain, entities, parse_mode = self._check_text(
            params, "caption", MAX_CAPTION_LENGTH, required=False
        )
        markup = self._check_markup(params.get("reply_markup"))
        thread_id = _opt_int(params, "message_thread_id")
        reply_to = self._reply_to(chat_id, params)
        mid_preview = self._next_mid.get(chat_id, 1)
        if upload is not None:
            document: dict[str, Any] = {
                "file_id": f"DOC-{chat_id}-{mid_preview}",
                "file_unique_id": f"UDOC{chat_id}x{mid_preview}",
                "file_size": len(upload.content),
            }
            if upload.filename:
                document["file_name"] = upload.filename
            if upload.content_type:
                document["mime_type"] = upload.content_type
            self._files.setdefault(
                document["file_id"],
                _File(
                    file_id=document["file_id"],
                    file_unique_id=document["file_unique_id"],
                    content=upload.content,
                    file_size=len(upload.content),
                ),
            )
        else:
            document = {"file_id": str(doc_param), "file_unique_id": f"U{doc_param}"}
        return self._file_message(
            "sendDocument",
            "document",
            {"document": document},
            plain,
            plain,
            chat_id=chat_id,
            thread_id=thread_id,
            raw=raw,
            entities=entities,
            parse_mode=parse_mode,
            markup=markup,
            reply_to=reply_to,
            upload=upload,
            params=params,
        )

    async def _m_send_photo(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        """A photo upload (multipart): the bytes are recorded in ``document_content``, the PNG's
        or JPEG's size read from the file (Telegram answers with ``PhotoSize`` entries)."""
        chat_id = self._resolve_chat(params)
        photo_param = params.get("photo")
        upload = files.get("photo")
        if upload is None and isinstance(photo_param, str) and photo_param.startswith("attach://"):
            upload = files.get(photo_param[len("attach://") :])
        if upload is None and (photo_param is None or photo_param == ""):
            raise _bad("there is no photo in the request")
        if upload is not None and not upload.content:
            raise _bad("file must be non-empty")
        if upload is not None and len(upload.content) > MAX_PHOTO_BYTES:
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        raw, plain, entities, parse_mode = self._check_text(
            params, "caption", MAX_CAPTION_LENGTH, required=False
        )
        markup = self._check_markup(params.get("reply_markup"))
        thread_id = _opt_int(params, "message_thread_id")
        reply_to = self._reply_to(chat_id, params)
        mid_preview = self._next_mid.get(chat_id, 1)
        width, height = _image_size(upload.content) if upload is not None else (0, 0)
        if upload is not None and (width <= 0 or height <= 0):
            raise _bad("IMAGE_PROCESS_FAILED")
        size = {
            "file_id": f"PHOTO-{chat_id}-{mid_preview}",
            "file_unique_id": f"UPHOTO{chat_id}x{mid_preview}",
            "width": width,
            "height": height,
            "file_size": len(upload.content) if upload is not None else 0,
        }
        return self._file_message(
            "sendPhoto",
            "photo",
            {"photo": [size]},
            plain or None,  # an empty caption is no caption
            plain,
            chat_id=chat_id,
            thread_id=thread_id,
            raw=raw,
            entities=entities,
            parse_mode=parse_mode,
            markup=markup,
            reply_to=reply_to,
            upload=upload,
            params=params,
        )

    def _file_message(
        self,
        method: str,
        kind: str,
        extra: dict[str, Any],
        caption: str | None,
        plain: str | None,
        *,
        chat_id: int,
        thread_id: int | None,
        raw: str | None,
        entities: list[dict[str, Any]],
        parse_mode: str | None,
        markup: dict[str, Any] | None,
        reply_to: dict[str, Any] | None,
        upload: _Upload | None,
        params: dict[str, Any],
    ) -> Any:
        """A document or photo the bot sent: stored (for edits and replies) and recorded."""
        if caption is not None:
            extra["caption"] = caption
        if entities:
            extra["caption_entities"] = entities
        if markup and "inline_keyboard" in markup:
            extra["reply_markup"] = markup
        if reply_to:
            extra["reply_to_message"] = reply_to
        message = self._new_bot_message(chat_id, thread_id, extra)
        self._messages[(chat_id, message["message_id"])] = _Stored(
            message=message, raw_text=raw, parse_mode=parse_mode, from_bot=True, kind=kind
        )
        self._record(
            self.sent,
            SentMessage(
                method=method,
                chat_id=chat_id,
                text=raw,
                message_id=message["message_id"],
                message_thread_id=thread_id,
                parse_mode=parse_mode,
                reply_markup=markup,
                document_filename=upload.filename if upload else None,
                document_size=len(upload.content) if upload else None,
                document_mime_type=upload.content_type if upload else None,
                document_content=upload.content if upload else None,
                plain_text=plain,
                params=params,
            ),
        )
        return copy.deepcopy(message)

    async def _m_edit_message_text(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat_id, mid, stored = self._stored_for_edit(params)
        if stored.kind != "text":
            raise _bad("there is no text in the message to edit")
        raw, plain, entities, parse_mode = self._check_text(
            params, "text", MAX_MESSAGE_LENGTH, required=True
        )
        markup = self._check_markup(params.get("reply_markup"))
        new_markup = markup if markup and "inline_keyboard" in markup else None
        msg = stored.message
        if (
            msg.get("text") == plain
            and msg.get("entities", []) == entities
            and msg.get("reply_markup") == new_markup
        ):
            raise _bad(_NOT_MODIFIED)
        msg["text"] = plain
        if entities:
            msg["entities"] = entities
        else:
            msg.pop("entities", None)
        if new_markup is not None:
            msg["reply_markup"] = new_markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        stored.raw_text = raw
        stored.parse_mode = parse_mode
        self._record(
            self.edits,
            SentMessage(
                method="editMessageText",
                chat_id=chat_id,
                text=raw,
                message_id=mid,
                message_thread_id=msg.get("message_thread_id"),
                parse_mode=parse_mode,
                reply_markup=markup,
                plain_text=plain,
                params=params,
            ),
        )
        return copy.deepcopy(msg)

    async def _m_edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, _Upload]
    ) -> Any:
        chat_id, mid, stored = self._stored_for_edit(params)
        markup = self._check_markup(params.get("reply_markup"))
        new_markup = markup if markup and "inline_keyboard" in markup else None
        msg = stored.message
        if msg.get("reply_markup") == new_markup:
            raise _bad(_NOT_MODIFIED)
        if new_markup is not None:
            msg["reply_markup"] = new_markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        self._record(
            self.edits,
            SentMessage(
                method="editMessageReplyMarkup",
                chat_id=chat_id,
                text=stored.raw_text,
                message_id=mid,
                message_thread_id=msg.get("message_thread_id"),
                parse_mode=stored.parse_mode,
                reply_markup=new_markup,
                plain_text=msg.get("text", msg.get("caption")),
                params=params,
            ),
        )
        return copy.deepcopy(msg)

    async def _m_delete_message(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat_id = self._resolve_chat(params)
        mid = _opt_int(params, "message_id")
        if mid is None:
            raise _bad("message identifier is not specified")
        if self._messages.pop((chat_id, mid), None) is None:
            raise _bad("message to delete not found")
        self._record(self.deleted, (chat_id, mid))
        return True

    async def _m_answer_callback_query(
        self, params: dict[str, Any], files: dict[str, _Upload]
    ) -> Any:
        cq_id = _opt_str(params, "callback_query_id")
        issued = self._callbacks.get(cq_id or "")
        if cq_id is None or issued is None or issued.answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = _opt_str(params, "text")
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        issued.answered = True
        self._record(
            self.answered_callbacks,
            AnsweredCallback(
                callback_query_id=cq_id,
                text=text,
                show_alert=_opt_bool(params, "show_alert"),
                url=_opt_str(params, "url"),
                cache_time=_opt_int(params, "cache_time"),
                data=issued.data,
                user_id=issued.user_id,
            ),
        )
        return True

    async def _m_send_chat_action(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat_id = self._resolve_chat(params)
        action = _opt_str(params, "action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._record(
            self.chat_actions,
            ChatAction(chat_id, action, _opt_int(params, "message_thread_id")),
        )
        return True

    async def _m_get_file(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        file_id = _opt_str(params, "file_id")
        stored = self._files.get(file_id or "")
        if stored is None:
            raise _bad("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        if stored.file_path is None:
            stored.file_path = f"documents/file_{len(self._file_paths)}"
            self._file_paths[stored.file_path] = stored.file_id
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    async def _download(self, token: str, file_path: str) -> web.Response:
        """``GET /file/bot<token>/<file_path>``: the bytes of a file ``getFile`` named."""
        if token != self.token:
            return self._respond(_ApiError(401, "Unauthorized"))
        file_id = self._file_paths.get(file_path)
        if file_id is None:
            return self._respond(_ApiError(404, "Not Found"))
        self._record(self.downloads, file_path)
        return web.Response(body=self._files[file_id].content)

    async def _m_get_chat(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat_id = self._resolve_chat(params)
        return {
            **self._chat_obj(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
