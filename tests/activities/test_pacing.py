"""Per-chat pacing: a burst goes out at once, a flood settles to the rate, 0 means unpaced."""

from __future__ import annotations

from activities.pacing import ChatPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_zero_interval_means_no_pacing() -> None:
    pacer = ChatPacer(interval=0, group_interval=0)
    for _ in range(10):
        async with pacer.slot(1):
            pass


async def test_a_burst_is_free_then_the_rate_applies(monkeypatch: object) -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    import activities.pacing as pacing

    monkeypatch.setattr(pacing.asyncio, "sleep", fake_sleep)  # type: ignore[attr-defined]
    pacer = ChatPacer(interval=1.0, clock=clock, burst=3)
    for _ in range(5):
        async with pacer.slot(7):
            pass
    assert slept == [1.0, 1.0]  # three at once, then one per second
    pacer.block(7, 5.0)
    async with pacer.slot(7):
        pass
    assert slept[-1] == 5.0  # a 429's retry_after is waited out
