"""A job message whose send failed (a 5xx, a worker that died mid-send) is tried again at once:
with the one-second first retry, two failures in a row cost a result 3 s and three cost 7 s —
the tail of the latency from a job's end to its message. The backoff still grows to its cap, so
a Telegram that stays down is not hammered."""

from __future__ import annotations

from datetime import timedelta

from workflows.job import NOTIFY_RETRY


def _waits(attempts: int) -> list[float]:
    first = NOTIFY_RETRY.initial_interval.total_seconds()
    cap = (NOTIFY_RETRY.maximum_interval or timedelta(0)).total_seconds()
    return [min(first * NOTIFY_RETRY.backoff_coefficient**n, cap) for n in range(attempts)]


def test_a_failed_job_message_is_retried_within_half_a_second() -> None:
    assert NOTIFY_RETRY.initial_interval <= timedelta(seconds=0.5)
    # Three failures in a row cost under 2 s of waiting; a long outage still backs off to 30 s.
    assert sum(_waits(3)) < 2.0
    assert _waits(20)[-1] == 30.0
