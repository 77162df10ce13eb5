"""Spans of time as a person reads them: one formatter for ages and durations, with tenths of a
second only for the short times to result /stats reports."""

from __future__ import annotations

import pytest

from core.domain.render import elapsed
from core.domain.stats import seconds_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3, "0 s"), (45, "45 s"), (119.9, "119 s"), (120, "2 min"), (7199, "119 min"),
     (7200, "2 h 0 min"), (9000, "2 h 30 min"), (172800, "2 days")],
)  # fmt: skip
def test_elapsed(seconds: float, text: str) -> None:
    assert elapsed(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.42, "0.4 s"), (9.94, "9.9 s"), (45, "45 s"), (5400, "90 min")]
)
def test_a_time_to_result_keeps_tenths_while_short(seconds: float, text: str) -> None:
    assert seconds_text(seconds) == text
