"""The recurring fan-out bench at a tiny size: five `/every` cron schedules in five private
chats, due at one minute, with the roles as processes of their own; each run's result reaches
its chat at the Bot API emulator exactly once (its card is not counted as the result), and the
bench deletes its schedules."""

from __future__ import annotations

import pytest

from bench.fanout import parse_args, run


@pytest.mark.timeout(150)  # waits for the next whole minute: up to 65 s of it
async def test_each_recurring_result_reaches_its_chat_exactly_once() -> None:
    outcomes = await run(parse_args(["--fanout", "5", "--timeout", "60"]))

    assert [o.name for o in outcomes] == ["bare: notify.send only", "fan-out, 1 operator process"]
    for outcome in outcomes:
        assert (outcome.delivered, outcome.repeated) == (5, 0), outcome
    fanout = outcomes[1]
    assert fanout.sends >= 5 and fanout.last == fanout.last  # timed: not NaN
