"""How every `hbo` process starts and stops: the signals that ask it to stop, the one wait for
"stop was asked, or one of the running parts ended", and leaving without the interpreter's
teardown. Imports nothing of the project, so the lean isolated child can use it too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, NoReturn, Protocol

log = logging.getLogger("hbo")


class Pollable(Protocol):
    """A Temporal worker as far as running and stopping it goes."""

    async def run(self) -> None: ...

    async def shutdown(self) -> None: ...


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`: everything then winds down in order."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def first_to_end(
    stop: asyncio.Event, tasks: Sequence[asyncio.Task[Any]]
) -> list[BaseException]:
    """Wait until `stop` is set or one of `tasks` ends; the failures of the tasks that ended
    (none when `stop` came first or they ended cleanly). Stopping the tasks is the caller's."""
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    return [
        failure
        for task in done
        if task is not stopper and not task.cancelled()
        if (failure := task.exception()) is not None
    ]


async def until_stopped(stop: asyncio.Event, *parts: Coroutine[Any, Any, Any]) -> bool:
    """Run the parts (each watches `stop` itself) until `stop` or until one ends; then ask the
    rest to stop and wait for them. True when one failed."""
    tasks = [asyncio.create_task(part) for part in parts]
    try:
        failures = await first_to_end(stop, tasks)
        for failure in failures:
            log.error("a component stopped: %r", failure)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return bool(failures)


async def poll_until_stopped(
    workers: Sequence[Pollable], stop: asyncio.Event
) -> list[BaseException]:
    """Run the workers until `stop` or until one ends, then shut them all down; the failures of
    those that ended."""
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        return await first_to_end(stop, tasks)
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)


def leave(code: int) -> NoReturn:
    """Exit at once, after flushing logs and output. The Temporal SDK's native threads can still
    call into Python while a finishing interpreter tears itself down, which aborts the process
    (SIGABRT, exit status 134) after an otherwise clean stop — a supervisor would count that as
    a crash. Our own resources (workers, database, dev server) are closed by the time we get
    here, so skipping the teardown loses nothing."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
