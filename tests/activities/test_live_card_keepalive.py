"""A live card's refresher beats while it waits on the server (`describe()` of a busy job) or on
the chat, not only between rounds: with the notify heartbeat timeout of a few seconds, a slow
describe on a live worker made the refresher look dead and it was retried on another worker
(seen as spurious retries in the fidelity day)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.live_card import LiveCardActivities
from activities.telegram.sender import Sender
from core.domain.jobs.cards import LiveCard
from core.io.settings import Settings


class _SlowServer:
    """A client whose describe of the job answers only when the test says so."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.asked = asyncio.Event()

    def get_workflow_handle(self, job_id: str) -> Any:
        async def describe() -> Any:
            self.asked.set()
            await self.answer.wait()
            # No step running any more: the refresher stops by itself.
            return SimpleNamespace(raw_description=SimpleNamespace(pending_activities=[]))

        return SimpleNamespace(describe=describe)


async def test_the_live_card_beats_while_a_describe_is_slow() -> None:
    server = _SlowServer()
    settings = cast(Settings, SimpleNamespace(live_card_interval_seconds=10))
    live = LiveCardActivities(cast(Sender, object()), settings)
    beats: list[float] = []
    env = ActivityEnvironment(client=cast(Client, server))
    env.on_heartbeat = lambda *details: beats.append(asyncio.get_running_loop().time())
    card = LiveCard(job_id="job-live01", chat_id=7, message_id=3, step_index=0, text="card\nlast")
    running = asyncio.create_task(env.run(live.live_card, card))
    await asyncio.wait_for(server.asked.wait(), timeout=10)
    asked_at = asyncio.get_running_loop().time()
    await asyncio.sleep(2.0)  # the describe takes 2 s: four beats of 0.5 s are due meanwhile
    during = [t for t in beats if t > asked_at]
    server.answer.set()
    assert await asyncio.wait_for(running, timeout=10) == 0
    assert len(during) >= 3, f"{len(during)} beats while describe() waited 2 s"
