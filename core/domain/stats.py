"""`/stats`: a chat's jobs per day by final state and the time to their results, as data.

The figures come from Temporal visibility (closed `JobWorkflow`s of the chat: close time, final
state, start time) and the report ledger (when the job's final state was told), never from a
bookkeeping of their own. This module holds the models and the pure aggregation; gathering and
drawing are the reporting activity's (`activities/stats.py`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from core.domain.render import elapsed

PERIODS = {"week": 7, "month": 30}
FINAL_STATES = ("completed", "failed", "cancelled")


def parse_period(args: str) -> str:
    """`week` (default) or `month`; anything else is refused with a clear message."""
    word = (args.split() or ["week"])[0].lower()
    if word not in PERIODS:
        raise ValueError(f"unknown period {word!r}: use week or month")
    return word


class StatsRequest(BaseModel):
    chat_id: int
    topic_id: int | None = None
    period: str = "week"
    timezone: str = "UTC"
    # The asking moment: set by the workflow (its own time), so a retried activity draws the
    # same window.
    now: datetime | None = None

    @property
    def days(self) -> int:
        return PERIODS[self.period]

    @property
    def at(self) -> datetime:
        if self.now is None:
            raise ValueError("a stats request needs its moment (`now`)")
        return self.now


class StatsChart(BaseModel):
    # Raw bytes in Python; base64 in JSON (Temporal payloads).
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    png: bytes
    caption: str
    jobs: int
    width: int
    height: int


class StatsResult(BaseModel):
    caption: str
    jobs: int
    png_bytes: int
    message_id: int | None = None


@dataclass(frozen=True)
class JobPoint:
    """One closed job as visibility and the ledger see it."""

    job_id: str
    state: str  # completed / failed / cancelled
    started: datetime | None
    closed: datetime
    told_at: datetime | None = None  # when its final state was told (the ledger)


@dataclass
class DayStats:
    day: date
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINAL_STATES, 0))
    latencies: list[float] = field(default_factory=list)

    @property
    def median_latency(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None


@dataclass
class Summary:
    period: str
    days: list[DayStats]

    @property
    def total(self) -> int:
        return sum(sum(d.counts.values()) for d in self.days)

    def count(self, state: str) -> int:
        return sum(d.counts[state] for d in self.days)

    @property
    def latencies(self) -> list[float]:
        return [value for d in self.days for value in d.latencies]


def window_start(request: StatsRequest) -> datetime:
    """Midnight (in the operator's timezone) of the first day shown: today and the days before."""
    local = request.at.astimezone(ZoneInfo(request.timezone))
    first = local.date() - timedelta(days=request.days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=local.tzinfo)


def summarize(request: StatsRequest, points: list[JobPoint]) -> Summary:
    """Jobs per local day by final state; per day, the seconds from each job's start to its
    final state being told (jobs whose final state was not told have no latency)."""
    tz = ZoneInfo(request.timezone)
    first = window_start(request).date()
    days = [DayStats(first + timedelta(days=i)) for i in range(request.days)]
    index = {d.day: d for d in days}
    for point in points:
        day = index.get(point.closed.astimezone(tz).date())
        if day is None or point.state not in day.counts:
            continue
        day.counts[point.state] += 1
        if point.told_at is not None and point.started is not None:
            day.latencies.append(max((point.told_at - point.started).total_seconds(), 0.0))
    return Summary(request.period, days)


def seconds_text(value: float) -> str:
    """A time to result: tenths of a second while short (most results come in a few), else
    as any span of time reads (`core.domain.render.elapsed`)."""
    return f"{value:.1f} s" if value < 10 else elapsed(value)


def caption(summary: Summary) -> str:
    """One line: "Last 7 days: 42 jobs — 38 completed, 3 failed, 1 cancelled; results told in
    p50 0.2 s, p90 1.4 s"."""
    span = f"Last {len(summary.days)} days"
    total = summary.total
    if total == 0:
        return f"{span}: no finished jobs in this chat."
    parts = ", ".join(f"{summary.count(state)} {state}" for state in FINAL_STATES)
    noun = "job" if total == 1 else "jobs"
    text = f"{span}: {total} {noun} — {parts}"
    latencies = summary.latencies
    if latencies:
        p50 = statistics.median(latencies)
        text += f"; results told in p50 {seconds_text(p50)}"
        if len(latencies) >= 10:
            p90 = statistics.quantiles(latencies, n=10, method="inclusive")[-1]
            text += f", p90 {seconds_text(p90)}"
        text += " after the start"
    return text
