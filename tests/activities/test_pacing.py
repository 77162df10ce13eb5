"""Per-chat pacing follows Telegram: no wait ahead of time, order kept, a 429 blocks only the
chat that got it."""

from __future__ import annotations

import asyncio

import pytest

from activities.telegram import pacing
from activities.telegram.pacing import ChatPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeClock, list[float]]:
    fake = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        fake.now += seconds

    monkeypatch.setattr(pacing.asyncio, "sleep", fake_sleep)
    return fake, slept


async def test_a_private_chat_is_not_held_back(clock: tuple[FakeClock, list[float]]) -> None:
    fake, slept = clock
    pacer = ChatPacer(clock=fake)
    for _ in range(20):
        async with pacer.slot(7):
            pass
    assert slept == []  # twenty sends, no wait: Telegram says when it minds


async def test_a_429_blocks_that_chat_alone(clock: tuple[FakeClock, list[float]]) -> None:
    fake, slept = clock
    pacer = ChatPacer(clock=fake)
    pacer.block(7, 5.0)
    assert pacer.blocked_for(7) == 5.0
    async with pacer.slot(8):
        pass
    assert slept == []  # another chat goes at once
    async with pacer.slot(7):
        pass
    assert slept == [5.0]  # the blocked chat waits out retry_after
    assert pacer.blocked_for(7) == 0.0


async def test_turns_are_taken_in_arrival_order() -> None:
    pacer = ChatPacer()
    order: list[int] = []

    async def send(n: int) -> None:
        async with pacer.slot(7):
            await asyncio.sleep(0.001 * (5 - n))  # earlier sends take longer
            order.append(n)

    tasks = []
    for n in range(5):
        tasks.append(asyncio.create_task(send(n)))
        await asyncio.sleep(0)  # hand them over one after another
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
