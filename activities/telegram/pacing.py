"""Per-chat order for Telegram sends, and a chat's own wait after a 429.

Telegram's limits: about 30 messages a second per bot and 20 a minute per group — PTB's
`AIORateLimiter` on each bot enforces both — and "about one message a second" per chat, a
sustained rate that Telegram tolerates bursts above and enforces itself with 429 +
`retry_after`. So a private chat is not held back ahead of time: its messages go out at once,
in the order they were handed over. After a 429 that chat alone waits out `retry_after`; the
sender retries the refused call while it still holds the chat's turn, so order holds, and every
other chat keeps going. (Pacing private chats ahead of time at ~1/s made every result in a
normal conversation wait about 2.6 s.)

The pacer is process-wide: the bot's replies and the notify activities share it when they run
in one process.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

IDLE_CHATS_KEPT = 4096
# Telegram's limit for a group: 20 messages a minute (edits count). A card's live edit goes
# only while more than GROUP_RESERVED of them are left, so results and state messages keep
# theirs; in a private chat it goes only while nothing else waits for the chat's turn.
GROUP_PER_MINUTE = 20
GROUP_RESERVED = 8
# What this process last made a message show is remembered this long (an activity's retries
# come within minutes), for at most this many messages a chat.
SHOWN_SECONDS = 300.0
SHOWN_PER_CHAT = 64


@dataclass
class _ChatState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_at: float = 0.0  # nothing goes to the chat before this (a 429's retry_after)
    last_used: float = 0.0
    sent: deque[float] = field(default_factory=deque)  # calls made in the last minute
    # message id → (content, when) this process last made it show (an edit answered 200 or
    # "message is not modified")
    shown: dict[int, tuple[str, float]] = field(default_factory=dict)


class ChatPacer:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._chats: dict[int, _ChatState] = {}
        # Told of each call into a group (`core.io.group_minute`), so other processes count it.
        self.group_recorder: Callable[[int], None] | None = None

    def _state(self, chat_id: int) -> _ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            if len(self._chats) > IDLE_CHATS_KEPT:
                self._forget_idle()
            state = self._chats[chat_id] = _ChatState()
        return state

    def _forget_idle(self) -> None:
        now = self.clock()
        for chat_id, state in list(self._chats.items()):
            if not state.lock.locked() and now >= state.next_at and now - state.last_used > 60:
                del self._chats[chat_id]

    @asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        """Hold the chat's turn for one call (FIFO: asyncio.Lock wakes waiters in order)."""
        state = self._state(chat_id)
        async with state.lock:
            await self.wait_blocked(chat_id)
            try:
                yield
            finally:
                state.last_used = self.clock()
                state.sent.append(state.last_used)
                if chat_id < 0 and self.group_recorder is not None:
                    self.group_recorder(chat_id)

    def edit_room(self, chat_id: int) -> bool:
        """Whether a low-priority edit (a live card) may go to the chat now: never while the
        chat waits out a 429 or another call holds or waits for its turn (a result first), and
        in a group only while its minute's budget has more than the reserve left."""
        state = self._state(chat_id)
        if state.lock.locked() or self.blocked_for(chat_id) > 0:
            return False
        now = self.clock()
        while state.sent and now - state.sent[0] >= 60:
            state.sent.popleft()
        return chat_id > 0 or len(state.sent) < GROUP_PER_MINUTE - GROUP_RESERVED

    def shows(self, chat_id: int, message_id: int, content: str) -> bool:
        """Whether this process recently made the message show exactly `content`: an edit to
        it would change nothing (Telegram: "message is not modified"). Asked in the chat's turn,
        so an edit queued behind the same edit (a retry of an attempt that was still waiting)
        finds it landed."""
        state = self._chats.get(chat_id)
        known = state.shown.get(message_id) if state else None
        return known is not None and known[0] == content and self.clock() - known[1] < SHOWN_SECONDS

    def showing(self, chat_id: int, message_id: int, content: str | None) -> None:
        """The message now shows `content` (None: unknown, after an answer that may hide it)."""
        shown = self._state(chat_id).shown
        shown.pop(message_id, None)
        if content is None:
            return
        shown[message_id] = (content, self.clock())
        while len(shown) > SHOWN_PER_CHAT:
            del shown[next(iter(shown))]

    async def wait_blocked(self, chat_id: int) -> None:
        """Wait until the chat's `retry_after` (if any) has passed."""
        state = self._state(chat_id)
        while (delay := state.next_at - self.clock()) > 0:  # noqa: ASYNC110 (a deadline, not an event)
            await asyncio.sleep(delay)

    def block(self, chat_id: int, seconds: float) -> None:
        """After a 429: nothing goes to this chat for `seconds`."""
        state = self._state(chat_id)
        state.next_at = max(state.next_at, self.clock() + seconds)

    def blocked_for(self, chat_id: int) -> float:
        state = self._chats.get(chat_id)
        return max(0.0, state.next_at - self.clock()) if state else 0.0


# Shared by everything that sends from this process.
CHAT_PACER = ChatPacer()
