"""Console chat: the same operator, another transport. Used when no Telegram token is set."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Protocol, TextIO

from bot.operator import Operator
from bot.types import Incoming, Reply
from core.domain.render import console_text

log = logging.getLogger(__name__)

CONSOLE_CHAT_ID = 1
CONSOLE_USER_ID = 1
PROMPT = "you> "
PROMPT_GRACE_SECONDS = 0.5


class StdinLines:
    """Lines from stdin, read on a daemon thread: a thread blocked in `readline()` must not
    keep the process alive after Ctrl-C (an executor thread would be joined at exit)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._pump, name="console-stdin", daemon=True).start()

    def _pump(self) -> None:
        while True:
            line = sys.stdin.readline()
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line or None)
            if not line:
                return

    async def next(self) -> str | None:
        """The next line, or None at end of input."""
        return await self._queue.get()


class LineSource(Protocol):
    async def next(self) -> str | None: ...


async def run_console(
    operator: Operator,
    stop: asyncio.Event,
    out: TextIO | None = None,
    lines: LineSource | None = None,
) -> None:
    """Each line is answered by its own task: a slow answer (a model that does not reply) never
    holds up the next line — a `/workers` typed meanwhile is answered at once. `lines` defaults
    to stdin."""
    out = out or sys.stdout
    print(
        "Console chat (no TELEGRAM_BOT_TOKEN set). Try: /exec echo hello · /research notes.txt · "
        "/jobs · /help. Ctrl-D or Ctrl-C to quit.",
        file=out,
        flush=True,
    )
    lines = lines or StdinLines()
    answering: set[asyncio.Task[None]] = set()
    try:
        while not stop.is_set():
            print(PROMPT, end="", file=out, flush=True)
            reader = asyncio.ensure_future(lines.next())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if reader not in done:
                reader.cancel()
                return
            line = reader.result()
            if line is None:  # end of input: Ctrl-D quits; a detached run keeps its workers going
                if answering:  # piped input: let the answers still on their way arrive
                    await asyncio.wait(answering)
                if sys.stdin.isatty():
                    stop.set()
                return
            text = line.strip()
            if not text:
                continue
            late = asyncio.Event()
            task = asyncio.create_task(answer_line(operator, text, out, late))
            answering.add(task)
            task.add_done_callback(answering.discard)
            # Most answers take milliseconds: print them before the next prompt, as a chat does.
            done, _ = await asyncio.wait({task}, timeout=PROMPT_GRACE_SECONDS)
            if not done:
                late.set()
    finally:
        for task in answering:
            task.cancel()


async def answer_line(
    operator: Operator, text: str, out: TextIO, late: asyncio.Event | None = None
) -> None:
    """One line's replies, printed when ready (a `late` answer on a line of its own, followed
    by a fresh prompt). Errors go to the log; the terminal gets one line."""
    first = True

    async def show(reply: Reply) -> list[int]:
        nonlocal first
        if first and late is not None and late.is_set():
            print(file=out)
        first = False
        print(console_text(reply.text, reply.buttons), file=out, flush=True)
        if reply.document_text is not None:
            print(
                f"  (attached {reply.document_name}:)\n{reply.document_text}", file=out, flush=True
            )
        return []  # a terminal cannot edit a card: the job never tries

    try:
        await operator.handle(_incoming(text), post=show)
        if late is not None and late.is_set():
            print(PROMPT, end="", file=out, flush=True)
    except Exception:
        log.exception("console message failed: %s", text[:100])
        print(
            "⚠️ Something went wrong on my side (see the log); nothing was lost.",
            file=out,
            flush=True,
        )


def _incoming(text: str) -> Incoming:
    return Incoming(
        user_id=CONSOLE_USER_ID,
        chat_id=CONSOLE_CHAT_ID,
        chat_type="private",
        text=text,
        username="console",
        trusted=True,
    )
