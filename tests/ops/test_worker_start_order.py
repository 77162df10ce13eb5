"""A restarted operator worker polls at once: the heartbeat schedules are synced beside the
polling, not before it (one schedule call per target: seconds with many targets, during which
the job messages a killed operator left waited for nobody)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from activities.telegram.sender import Sender
from core.domain.temporal_names import NOTIFY_QUEUE, OPERATOR_QUEUE
from hbo import workers
from hbo.runtime import Runtime


class _Sender:
    async def close(self) -> None:
        return None


async def test_the_operator_polls_before_its_heartbeats_are_synced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sync_may_end = asyncio.Event()
    sync_ended = asyncio.Event()
    polling = asyncio.Event()

    async def slow_sync(runtime: Any) -> None:
        await sync_may_end.wait()
        sync_ended.set()

    async def poll(running: Any, stop: asyncio.Event) -> list[BaseException]:
        polling.set()
        await stop.wait()
        return []

    monkeypatch.setattr(workers, "sync_heartbeats", slow_sync)
    monkeypatch.setattr(workers, "build_workers", lambda *args, **kwargs: [])
    monkeypatch.setattr(workers, "poll_until_stopped", poll)
    stop = asyncio.Event()
    run = asyncio.create_task(
        workers.run_workers(
            cast(Runtime, None), [OPERATOR_QUEUE, NOTIFY_QUEUE], stop, cast(Sender, _Sender())
        )
    )
    # Bounded: before the fix the polling waited for the sync, which waits for this test.
    await asyncio.wait_for(polling.wait(), timeout=10)
    assert not sync_ended.is_set()
    sync_may_end.set()
    await asyncio.wait_for(sync_ended.wait(), timeout=10)  # still done, beside the polling
    stop.set()
    await asyncio.wait_for(run, timeout=10)
