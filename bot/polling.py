"""Polling Telegram so that an update is confirmed only once it has been handled.

Telegram forgets an update once a getUpdates call asks for an `offset` past it. PTB's Updater
asks for that as soon as it fetches the next batch, while the handlers of the last one may still
run; a bot killed then has lost those updates. Here the offset never passes an update whose
handling has not finished (its job started, its answer posted): after a crash Telegram sends it
again, and the job id derived from the update keeps a second handling from starting a second job.

Updates are handled concurrently, in order within a chat, in three lines per chat: commands
(and edits) one after another; plain words after the words and the commands before them; button
presses one after another. So "/exec a" then "/exec b" start in that order, and plain words
about a job come after its start; but nothing waits for the language model except plain words
(a command typed after a question the model is slow to answer goes ahead), and a Cancel press is
not held behind a message still being answered. New updates are fetched while older ones run.
Errors are retried as PTB's polling did: a 429 waits its `retry_after`, a timeout polls again at
once, a 409 Conflict or a network error backs off from 1 s up to 30 s, a bad token ends polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, Update
from telegram.error import InvalidToken, RetryAfter, TelegramError, TimedOut

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# While a fetched update is still being handled, Telegram answers at once (it still holds that
# update), so the next poll waits for a handler to finish, or this long for new updates.
BUSY_POLL_SECONDS = 1.0
# On stop, handlers still running get this long to finish; the rest stay unconfirmed and are
# handled again after the restart.
STOP_GRACE_SECONDS = 5.0
FINAL_CONFIRM_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 30.0
RETRY_AFTER_SLACK_SECONDS = 0.5

HandleUpdate = Callable[[Update], Awaitable[None]]


class Line(enum.Enum):
    """What an update waits for in its chat (see the module's docstring)."""

    commands = "commands"
    words = "words"
    buttons = "buttons"


_T = TypeVar("_T")


class UpdatePoller:
    """getUpdates in a loop; `handle` runs per update; the offset only moves past handled ones."""

    def __init__(self, bot: Bot, handle: HandleUpdate, poll_timeout: float) -> None:
        self.bot = bot
        self.handle = handle
        self.poll_timeout = poll_timeout
        self._seen_up_to: int | None = None  # the highest update id fetched
        self._unfinished: set[int] = set()  # fetched, handling not finished
        self._last_in_line: dict[tuple[Line, int], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished = asyncio.Event()  # some handling finished since the last fetch began

    @property
    def offset(self) -> int | None:
        """getUpdates' offset: it confirms every update below it, so it stays at the oldest
        update still being handled."""
        if self._unfinished:
            return min(self._unfinished)
        return None if self._seen_up_to is None else self._seen_up_to + 1

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; then give running handlers a moment, confirm what they
        finished, and return."""
        # As PTB's bootstrap: getUpdates does not work while a webhook is set.
        if await self._retrying(self.bot.delete_webhook, stop) is None:
            return
        try:
            while not stop.is_set():
                updates = await self._retrying(self._fetch, stop)
                if updates is None:
                    break
                fresh = [u for u in updates if self._is_new(u.update_id)]
                for update in fresh:
                    self._start(update)
                if not fresh and self._unfinished:
                    await _wait_any(stop.wait(), self._finished.wait(), timeout=BUSY_POLL_SECONDS)
        finally:
            await self._wind_down()

    def _is_new(self, update_id: int) -> bool:
        return self._seen_up_to is None or update_id > self._seen_up_to

    async def _fetch(self) -> tuple[Update, ...]:
        self._finished.clear()
        return await self.bot.get_updates(
            offset=self.offset,
            # Telegram holds back no answer while it has an unconfirmed update for us.
            timeout=0 if self._unfinished else int(self.poll_timeout),
            allowed_updates=list(ALLOWED_UPDATES),
        )

    def _start(self, update: Update) -> None:
        self._seen_up_to = update.update_id
        self._unfinished.add(update.update_id)
        place = _place_of(update)
        before = []
        if place is not None:
            joins, key = place
            waits = (Line.commands, Line.words) if joins is Line.words else (joins,)
            before = [t for w in waits if (t := self._last_in_line.get((w, key))) is not None]
        task = asyncio.create_task(
            self._handle_after(before, update), name=f"update-{update.update_id}"
        )
        self._tasks.add(task)
        if place is not None:
            self._last_in_line[place] = task

        def forget(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            if place is not None and self._last_in_line.get(place) is done:
                del self._last_in_line[place]

        task.add_done_callback(forget)

    async def _handle_after(self, before: list[asyncio.Task[None]], update: Update) -> None:
        if before:
            await asyncio.wait(before)  # their outcome is their own; only the order matters
        try:
            await self.handle(update)
        except Exception:  # the handler's own error handling failed: confirmed all the same,
            # as PTB did, or a broken update would be fetched again forever
            log.exception("update %s: handling failed", update.update_id)
        # A cancelled handling (stop) is not finished: it stays unconfirmed.
        self._unfinished.discard(update.update_id)
        self._finished.set()

    async def _retrying(
        self, action: Callable[[], Coroutine[Any, Any, _T]], stop: asyncio.Event
    ) -> _T | None:
        """`action`'s result, retried after Telegram and network errors as PTB's polling loop
        did; None once `stop` is set."""
        delay = 0.0
        while not stop.is_set():
            try:
                return await _unless_stopped(action(), stop)
            except RetryAfter as exc:
                delay = _seconds(exc.retry_after) + RETRY_AFTER_SLACK_SECONDS
                log.warning("getUpdates: flood control, polling again in %.1f s", delay)
            except TimedOut:
                delay = 0.0
            except InvalidToken:
                log.error("Telegram refused the bot token; polling stops")
                raise
            except TelegramError as exc:  # 409 Conflict (another poller), network errors
                delay = 1.0 if delay == 0 else min(MAX_BACKOFF_SECONDS, delay * 1.5)
                log.warning(
                    "getUpdates failed (%s: %s); polling again in %.1f s",
                    type(exc).__name__,
                    exc.message,
                    delay,
                )
            if delay:
                await _wait_any(stop.wait(), timeout=delay)
        return None

    async def _wind_down(self) -> None:
        if self._tasks:
            _, running = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_SECONDS)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if running:
                log.info("%d update(s) not finished; Telegram sends them again", len(running))
        if self._seen_up_to is None:
            return
        try:  # confirm what finished meanwhile (PTB does the same on stop); no long poll
            await asyncio.wait_for(
                self.bot.get_updates(
                    offset=self.offset, timeout=0, allowed_updates=list(ALLOWED_UPDATES)
                ),
                FINAL_CONFIRM_SECONDS,
            )
        except (TelegramError, TimeoutError) as exc:
            log.info("last confirmation not sent (%s); those updates come again", exc)


def _place_of(update: Update) -> tuple[Line, int] | None:
    """The line an update joins, and whose (its chat's, else its sender's); None: no line."""
    if update.callback_query is not None:
        line = Line.buttons
    else:
        message = update.message
        text = (message.text or message.caption or "") if message is not None else ""
        plain_words = update.edited_message is None and bool(text) and not text.startswith("/")
        line = Line.words if plain_words else Line.commands
    if update.effective_chat is not None:
        return line, update.effective_chat.id
    if update.effective_user is not None:
        return line, update.effective_user.id
    return None


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _unless_stopped(work: Coroutine[Any, Any, _T], stop: asyncio.Event) -> _T | None:
    """`work`'s result, or None (and `work` cancelled) once `stop` is set first."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
    if task.cancelled() or not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


async def _wait_any(*waits: Coroutine[Any, Any, Any], timeout: float) -> None:
    """Until the first of `waits` finishes or `timeout` passes; the rest are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
