"""Per-chat pacing for Telegram sends: about one message per second per chat, in arrival order,
and a chat that got a 429 waits out its `retry_after` before anything else is sent to it.

A token bucket, not a fixed gap: Telegram tolerates short bursts in a chat, so a job card and
its result a moment later go out at once, while a flood settles to the sustained rate.

Telegram's limits are per bot (~30 msg/s, enforced here by PTB's `AIORateLimiter`) and per chat
(~1 msg/s in a private chat, 20/min in a group). `AIORateLimiter` does not pace private chats,
hence this small limiter. It is process-wide: the bot's replies and the notify activities share
it when they run in one process (the embedded default and the operator worker of the stack).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

CHAT_MIN_INTERVAL_SECONDS = 1.0
GROUP_MIN_INTERVAL_SECONDS = 3.0  # 20 messages a minute
CHAT_BURST = 3  # messages a quiet chat may receive at once


@dataclass
class _ChatState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tokens: float = CHAT_BURST
    refilled_at: float = 0.0
    next_at: float = 0.0  # nothing before this (a 429's retry_after)
    last_used: float = 0.0


class ChatPacer:
    def __init__(
        self,
        interval: float = CHAT_MIN_INTERVAL_SECONDS,
        group_interval: float = GROUP_MIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        burst: int = CHAT_BURST,
    ) -> None:
        self.interval = interval
        self.group_interval = group_interval
        self.burst = burst
        self.clock = clock
        self._chats: dict[int, _ChatState] = {}

    def _state(self, chat_id: int) -> _ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            if len(self._chats) > 4096:
                self._forget_idle()
            state = self._chats[chat_id] = _ChatState(tokens=self.burst, refilled_at=self.clock())
        return state

    def _forget_idle(self) -> None:
        now = self.clock()
        for chat_id, state in list(self._chats.items()):
            if not state.lock.locked() and now - state.last_used > 60:
                del self._chats[chat_id]

    @asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        """Hold the chat's turn (FIFO: asyncio.Lock wakes waiters in order) for one API call."""
        state = self._state(chat_id)
        spacing = self.group_interval if chat_id < 0 else self.interval
        async with state.lock:
            while True:
                now = self.clock()
                refill = (now - state.refilled_at) / spacing if spacing > 0 else self.burst
                state.tokens = min(self.burst, state.tokens + refill)
                state.refilled_at = now
                delay = max(state.next_at - now, (1 - state.tokens) * spacing)
                if delay <= 0:
                    break
                await asyncio.sleep(delay)
            state.tokens -= 1
            try:
                yield
            finally:
                state.last_used = self.clock()

    def block(self, chat_id: int, seconds: float) -> None:
        """After a 429: nothing goes to this chat for `seconds`."""
        state = self._state(chat_id)
        state.next_at = max(state.next_at, self.clock() + seconds)


# Shared by everything that sends from this process.
CHAT_PACER = ChatPacer()
