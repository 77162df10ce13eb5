"""An activity's heartbeat kept going while it waits on something else (a chat's rate limit, a
claim, a model): the workflow's heartbeat timeout then tells a dead worker from a slow call, so
a crash is noticed in seconds instead of after the whole start-to-close timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from temporalio import activity


def _no_details() -> Sequence[Any]:
    return ()


@contextlib.asynccontextmanager
async def keep_alive(
    every: float,
    details: Callable[[], Sequence[Any]] = _no_details,
    after_beat: Callable[[], None] | None = None,
) -> AsyncIterator[None]:
    """Heartbeat at once and then every `every` seconds until the block ends, running
    `after_beat` after each beat. `details()` is read at each beat: what a retry resumes from
    (`activity.info().heartbeat_details`), so it must always say the latest progress (a beat
    without it would tell the next attempt that nothing was done)."""

    async def beat() -> None:
        while True:
            activity.heartbeat(*details())
            if after_beat is not None:
                after_beat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
