"""The fidelity judge: Temporal's histories (what happened to each job and what its notify
policy asks to tell) against every call the Bot API emulator received.

Pure over plain records, so it is tested on its own; `load_truth` reads the records from
Temporal and `deliveries_from` from the emulator.

What counts (all times are wall-clock seconds):
- a *state report* names a job and a state: the first line of a job's own message
  (`✅ job-x · completed`, the card `🆕 job-x · started`) or a line of a heartbeat digest
  (`✅ job-x completed`). The parts after the first of a split message and attached documents
  carry no header and belong to the report before them.
- *expected*: every state a job entered that its policy wants told, except `running` (the job
  card; counted on its own as start cards): needs attention, and the final state.
- *lost*: an expected (job, state) with no report in the job's own chat and topic.
- *duplicated*: every report of a (job, state) beyond the times the job entered that state (a
  second needs-attention episode is news, not a repeat). A repeat is *designed* only when its
  cause is on record between the report it repeats and the ledger's confirm of that state
  (or the repeat itself, when no confirm came first): a SIGKILL of a role that sends such a
  report (the at-least-once sender died after Telegram took the message and before it could
  confirm), or a 5xx the emulator answered after delivering a call naming the job (the sender
  was told "failed" about a delivered message). Each designed repeat is listed with its cause;
  any other repeat breaks the rules.
- *spurious retries*: a notify activity attempt that timed out (heartbeat or start-to-close)
  with no kill of a role that runs it and no dev-server restart between its schedule and its
  retry: the worker was alive, and a retry then may send twice.
- *misrouted*: a message naming a job in any chat or topic other than the job's.
- *silent violations*: a message naming a job whose policy is `silent`.
- *quiet violations*: a heartbeat message in a target inside that target's quiet window (job
  results are not held back by quiet hours: a person gets the result they asked for).
- *leaks*: a heartbeat message that shows the ack token or markup left over around it.
- *not succeeded*: a job whose command succeeds on its first run (kinds `ok`, `long`, `live`)
  that ended other than completed: the day's jobs did not do what they were asked. Unless its
  step ran out of attempts on a timeout while kills took that step's workers (retries are
  bounded): then it is listed with those kills, as designed.
- *unchanged*: reports of a state the job never entered or its policy does not want, and
  heartbeat alerts identical to one already delivered to the same target.
- *latency*: final state (its search-attribute upsert in the history) → first report of it,
  minus the time the chat spent waiting out `retry_after`s in between. Its p99 is also given
  without the results in flight across a dev-server restart (final state before the server was
  up again, told after it stopped): while Temporal is down no sender can tell anything.
- *card edits* (bench/_fidelity/edits.py): edits per chat, "message is not modified" answers
  judged by cause, each group's fullest minute, no live card refresh into a full one, and the
  worst latency of a result that came right after an edit in its chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client
from temporalio.converter import default as default_converter

from bench._fidelity.edits import EditVerdict, ResultPoint, judge_edits
from bench._fidelity.records import (
    HEARTBEAT_HEADER,
    MEANT_TO_SUCCEED,
    Delivery,
    Kill,
    SendAttempt,
    job_kind,
)
from core.domain.jobs.models import JobSpec, JobState, NotifyPolicy, parse_ledger_status

JOB_ID = r"job-[A-Za-z0-9][A-Za-z0-9:._-]*[A-Za-z0-9]"
_STATES = "started|running|needs attention|completed|failed|cancelled"
PUSH_HEADER = re.compile(rf"^\S+\s+({JOB_ID}) · ({_STATES})\b")
DIGEST_LINE = re.compile(rf"^\S+\s+({JOB_ID}) ({_STATES})$", re.MULTILINE)
ANY_JOB = re.compile(JOB_ID)
LEAK = re.compile(
    r"\bHEARTBEAT_OK\b|</?(?:b|i|u|s|code|pre|strong|em|br)\s*/?>|&nbsp;|\*\*|^br>",
    re.MULTILINE,
)

_CLOSE_STATES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: JobState.completed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: JobState.failed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: JobState.failed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: JobState.failed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: JobState.cancelled,
}


# --- records -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retry:
    """A notify activity attempt that timed out and was retried (from the job's history)."""

    job_id: str
    activity: str
    scheduled_at: float
    retried_at: float  # the started time of the attempt after the timeout
    timeout: str  # heartbeat | start_to_close | schedule_to_start


@dataclass(frozen=True)
class JobTruth:
    """One job as its Temporal history tells it."""

    job_id: str
    chat_id: int
    topic_id: int | None
    notify: NotifyPolicy
    states: tuple[tuple[JobState, float], ...]  # every JobStatus upsert, in order
    final: JobState | None = None  # None: still running when judged
    final_at: float | None = None
    goal: str = ""
    scheduled: bool = False  # a recurring job's run (started by its schedule)
    requested: bool = False  # asked for by a person in the chat
    retries: tuple[Retry, ...] = ()  # notify activities retried after a timeout
    # Work steps that ran out of attempts on a timeout (their last worker lost):
    # (activity, scheduled at, timed out at).
    lost_steps: tuple[tuple[str, float, float], ...] = ()

    @property
    def place(self) -> tuple[int, int | None]:
        return self.chat_id, self.topic_id

    def expected(self) -> set[JobState]:
        """The states this job's policy asks to tell (its start card aside)."""
        entered = {state for state, _ in self.states}
        if self.final is not None:
            entered.add(self.final)
        return {
            s
            for s in entered
            if s not in (JobState.queued, JobState.running, JobState.retrying)
            and self.notify.wants(s)
        }


@dataclass(frozen=True)
class RateWait:
    """A 429 answered to a call for `chat_id` at `at`: the chat waits `seconds`."""

    chat_id: int
    at: float
    seconds: float


@dataclass(frozen=True)
class Confirm:
    """The report ledger's confirm of a job's status (`state` or `state#episode`), as its
    `reported_at` showed it."""

    job_id: str
    status: str
    at: float

    @property
    def state(self) -> JobState:
        return JobState(parse_ledger_status(self.status)[0])


# Roles whose processes send a job's reports: the operator worker (notify activities, the
# heartbeat's digests); the bot replies to a command with the job's start card itself.
SENDERS: dict[JobState, frozenset[str]] = {JobState.running: frozenset({"operator", "bot"})}
DEFAULT_SENDERS = frozenset({"operator"})
SERVER_ROLE = "temporal"
# Clocks of separate processes on one machine, and a kill recorded around its signal.
SLACK_SECONDS = 0.25


@dataclass(frozen=True)
class QuietWindow:
    """A target's quiet window (UTC minutes after midnight), in force from `since`."""

    chat_id: int
    topic_id: int | None
    start: int
    end: int
    since: float

    def covers(self, at: float) -> bool:
        if at < self.since:
            return False
        when = datetime.fromtimestamp(at, UTC)
        minute = when.hour * 60 + when.minute
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


@dataclass
class Verdict:
    jobs: int = 0
    kills: int = 0
    lost: int = 0
    duplicated: int = 0
    by_kill: int = 0  # designed repeats caused by a kill of a sending role
    by_5xx: int = 0  # designed repeats caused by a 5xx after a delivery
    misrouted: int = 0
    silent: int = 0
    quiet: int = 0
    leaks: int = 0
    unchanged: int = 0
    unfinished: int = 0
    not_succeeded: int = 0  # jobs whose step succeeds on its first run that did not complete
    start_cards_missing: int = 0
    rescued_by_heartbeat: int = 0
    expected: int = 0
    messages: int = 0
    scheduled_runs: int = 0
    requested: int = 0
    retries_after_timeout: int = 0
    spurious_retries: int = 0
    confirms_missing: int = 0  # repeats whose confirm the harness did not see
    latency_points: list[tuple[float, float]] = field(default_factory=list)  # (final_at, ms)
    # Results in flight across a dev-server restart (final state before it was up again, told
    # after it stopped): no sender can tell them while Temporal is down.
    outage_ms: list[float] = field(default_factory=list)
    result_points: list[ResultPoint] = field(default_factory=list)  # each first final report
    edits: EditVerdict = field(default_factory=EditVerdict)  # card edits (bench/_fidelity/edits)
    lost_jobs: set[str] = field(default_factory=set)
    lost_items: list[str] = field(default_factory=list)
    duplicate_items: list[str] = field(default_factory=list)  # undesigned (a broken rule)
    designed_items: list[str] = field(default_factory=list)  # each with its cause
    spurious_items: list[str] = field(default_factory=list)
    misrouted_items: list[str] = field(default_factory=list)
    silent_items: list[str] = field(default_factory=list)
    quiet_items: list[str] = field(default_factory=list)
    leak_items: list[str] = field(default_factory=list)
    unchanged_items: list[str] = field(default_factory=list)
    unfinished_items: list[str] = field(default_factory=list)
    not_succeeded_items: list[str] = field(default_factory=list)
    # Jobs meant to succeed whose step ran out of attempts while kills took its workers: the
    # chaos made them fail, as designed (retries are bounded); each listed with its kills.
    lost_to_kills_items: list[str] = field(default_factory=list)

    @property
    def designed(self) -> int:
        return self.by_kill + self.by_5xx

    @property
    def latencies_ms(self) -> list[float]:
        return [ms for _, ms in self.latency_points]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def p99(self) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    @property
    def p99_beside_outage(self) -> float:
        """p99 of the results not in flight across a dev-server restart: what a dead sender, a
        5xx or a 429 costs, apart from Temporal itself being down."""
        ordered = sorted(self.latencies_ms)
        for ms in self.outage_ms:
            ordered.remove(ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    @property
    def ok(self) -> bool:
        """The hard rules: nothing lost or misrouted, no silent or quiet violation, no leak,
        every repeat designed (its cause on record), every job finished (so it was judged),
        every job meant to succeed completed,
        no edit that changed nothing without a cause, no live card edit into a full group
        minute."""
        return (
            self.lost == 0
            and self.misrouted == 0
            and self.silent == 0
            and self.quiet == 0
            and self.leaks == 0
            and self.duplicated == self.designed
            and self.unfinished == 0
            and self.not_succeeded == 0
            and self.edits.ok
        )

    def line(self) -> str:
        return (
            f"fidelity: jobs {self.jobs}, kills {self.kills}, lost {self.lost}, "
            f"duplicated {self.duplicated} (designed: kill {self.by_kill}, "
            f"5xx {self.by_5xx}), "
            f"misrouted {self.misrouted}, silent-violations {self.silent}, "
            f"quiet-violations {self.quiet}, leaks {self.leaks}, "
            f"p50 {self.p50:.0f} ms, p99 {self.p99:.0f} ms "
            f"(beside the server restart {self.p99_beside_outage:.0f} ms; "
            f"{len(self.outage_ms)} in flight across it), "
            f"spurious-retries {self.spurious_retries}, "
            f"not-modified {self.edits.undesigned_not_modified} "
            f"(designed {self.edits.not_modified_designed}), "
            f"live-edits-over-budget {self.edits.live_over_budget}, "
            f"not-succeeded {self.not_succeeded}"
        )


# --- parsing ------------------------------------------------------------------------------------
def _state(word: str) -> JobState:
    if word == "started":
        return JobState.running
    return JobState(word.replace(" ", "_"))


def state_reports(text: str) -> list[tuple[str, JobState]]:
    """(job id, state) pairs a message reports: a job message's header, or digest lines."""
    if text.startswith(HEARTBEAT_HEADER):
        return [(m.group(1), _state(m.group(2))) for m in DIGEST_LINE.finditer(text)]
    first = text.split("\n", 1)[0]
    match = PUSH_HEADER.match(first)
    return [(match.group(1), _state(match.group(2)))] if match else []


def heartbeat_body(text: str) -> str:
    return text.split("\n", 1)[1] if "\n" in text else ""


def _waited(waits: Sequence[RateWait], start: float, end: float) -> float:
    """Seconds of [start, end] covered by the chat's retry_after waits (their union)."""
    spans = sorted(
        (max(w.at, start), min(w.at + w.seconds, end))
        for w in waits
        if w.at < end and w.at + w.seconds > start
    )
    total, reach = 0.0, start
    for lo, hi in spans:
        lo = max(lo, reach)
        if hi > lo:
            total += hi - lo
            reach = hi
    return total


# --- the judgement -----------------------------------------------------------------------------
def judge(
    truths: Iterable[JobTruth],
    deliveries: Iterable[Delivery],
    *,
    waits: Iterable[RateWait] = (),
    quiet: Iterable[QuietWindow] = (),
    kills: Sequence[Kill] = (),
    attempts: Sequence[SendAttempt] = (),
    confirms: Iterable[Confirm] = (),
    server_restarts: Sequence[float] = (),
    limit: int = 30,
) -> Verdict:
    jobs = {t.job_id: t for t in truths}
    causes = _Causes(kills, attempts, confirms)
    # server_restarts holds each restart's stop and up times, in order.
    outages = list(zip(server_restarts[0::2], server_restarts[1::2], strict=False))
    sent = sorted(deliveries, key=lambda d: d.at)
    waits_by_chat: dict[int, list[RateWait]] = defaultdict(list)
    for wait in waits:
        waits_by_chat[wait.chat_id].append(wait)
    windows: dict[tuple[int, int | None], list[QuietWindow]] = defaultdict(list)
    for window in quiet:
        windows[(window.chat_id, window.topic_id)].append(window)
    v = Verdict(jobs=len(jobs), kills=len(kills), messages=len(sent))

    def note(items: list[str], text: str) -> None:
        if len(items) < limit:
            items.append(text)

    reports: dict[tuple[str, JobState], list[Delivery]] = defaultdict(list)
    alerts: dict[tuple[int, int | None], set[str]] = defaultdict(set)
    for d in sent:
        named = set(ANY_JOB.findall(d.text))
        wrong = sorted(j for j in named if j in jobs and jobs[j].place != d.place)
        if wrong:
            v.misrouted += 1
            note(v.misrouted_items, f"{wrong[0]} ({jobs[wrong[0]].place}) in {d.place}")
        hushed = sorted(j for j in named if j in jobs and jobs[j].notify is NotifyPolicy.silent)
        if hushed:
            v.silent += 1
            note(v.silent_items, f"{hushed[0]} in {d.place}: {d.text[:80]!r}")
        if d.from_heartbeat:
            for window in windows.get(d.place, []):
                if window.covers(d.at):
                    v.quiet += 1
                    note(v.quiet_items, f"{d.place} at {_clock(d.at)}: {d.text[:60]!r}")
                    break
            body = heartbeat_body(d.text)
            if LEAK.search(body):
                v.leaks += 1
                note(v.leak_items, f"{d.place}: {body[:80]!r}")
            if not state_reports(d.text) and body.strip():
                key = " ".join(body.split())
                if key in alerts[d.place]:
                    v.unchanged += 1
                    note(v.unchanged_items, f"repeated alert in {d.place}: {key[:60]!r}")
                alerts[d.place].add(key)
        elif LEAK.search(d.text) and "HEARTBEAT_OK" in d.text:
            v.leaks += 1
            note(v.leak_items, f"{d.place}: {d.text[:80]!r}")
        for job_id, state in state_reports(d.text):
            truth = jobs.get(job_id)
            if truth is None or truth.place != d.place:
                continue
            reports[(job_id, state)].append(d)

    for (job_id, state), got in reports.items():
        truth = jobs[job_id]
        entered = {s for s, _ in truth.states} | ({truth.final} if truth.final else set())
        if state not in entered or (
            not truth.notify.wants(state) and truth.notify is not NotifyPolicy.silent
        ):
            v.unchanged += len(got)
            note(v.unchanged_items, f"{job_id} reported {state.value} ({truth.notify.value})")
        entries = max(1, sum(1 for s, _ in truth.states if s is state))
        for index, d in enumerate(got):
            if index < entries:
                continue  # the first report of each time the job entered the state
            v.duplicated += 1
            what = f"{job_id} {state.value} ×{len(got)} in {d.place}"
            cause = causes.of_repeat(job_id, state, got[index - 1], d)
            if cause is None:
                confirm = causes.confirm_after(job_id, state, got[index - 1])
                why = (
                    f"sent again {d.at - confirm:.1f} s after the ledger's confirm"
                    if confirm is not None and confirm < d.at - SLACK_SECONDS
                    else "no kill of a sender, no hidden 5xx before the confirm"
                )
                note(v.duplicate_items, f"{what}: {why}")
                continue
            if cause.kind == "kill":
                v.by_kill += 1
            else:
                v.by_5xx += 1
            v.confirms_missing += 0 if cause.confirmed else 1
            note(v.designed_items, f"{what}: {cause.text}")

    v.scheduled_runs = sum(1 for t in jobs.values() if t.scheduled)
    v.requested = sum(1 for t in jobs.values() if t.requested and not t.scheduled)
    for truth in jobs.values():
        if truth.final is None:
            v.unfinished += 1
            last = truth.states[-1][0].value
            note(v.unfinished_items, f"{truth.job_id} still open, last state {last}")
        elif truth.final is not JobState.completed and job_kind(truth.goal) in MEANT_TO_SUCCEED:
            what = f"{truth.job_id} ({job_kind(truth.goal)}) ended {truth.final.value}"
            killed = causes.step_kills(truth)
            if killed:
                note(v.lost_to_kills_items, f"{what}: {killed}")
            else:
                v.not_succeeded += 1
                note(v.not_succeeded_items, what)
        if truth.notify is NotifyPolicy.state_changes and not reports.get(
            (truth.job_id, JobState.running)
        ):
            v.start_cards_missing += 1
        for state in sorted(truth.expected(), key=lambda s: s.value):
            v.expected += 1
            told = reports.get((truth.job_id, state))
            if not told:
                v.lost += 1
                v.lost_jobs.add(truth.job_id)
                note(v.lost_items, f"{truth.job_id} {state.value} in {truth.place} ({truth.goal})")
                continue
            if state is truth.final and truth.final_at is not None:
                first = told[0]
                if first.from_heartbeat:
                    v.rescued_by_heartbeat += 1
                waited = _waited(waits_by_chat.get(truth.chat_id, []), truth.final_at, first.at)
                ms = max(0.0, first.at - truth.final_at - waited) * 1000
                v.latency_points.append((truth.final_at, ms))
                if any(truth.final_at <= up and first.at >= stop for stop, up in outages):
                    v.outage_ms.append(ms)
                v.result_points.append(
                    ResultPoint(truth.job_id, first.chat_id, first.message_id, first.at, ms)
                )
        for retry in truth.retries:
            v.retries_after_timeout += 1
            if not causes.worker_died(retry, server_restarts):
                v.spurious_retries += 1
                note(
                    v.spurious_items,
                    f"{retry.job_id} {retry.activity}: {retry.timeout} timeout, retried at "
                    f"{_clock(retry.retried_at)} with no kill of its worker or server restart",
                )
    v.edits = judge_edits(attempts, v.result_points, kills=kills, limit=limit)
    return v


@dataclass(frozen=True)
class Cause:
    kind: str  # kill | 5xx
    text: str
    confirmed: bool  # the window ended at the ledger's confirm (not at the repeat)


class _Causes:
    """What may make an at-least-once sender repeat a report, indexed for the judge."""

    def __init__(
        self, kills: Sequence[Kill], attempts: Sequence[SendAttempt], confirms: Iterable[Confirm]
    ) -> None:
        self.kills = sorted(kills, key=lambda k: k.at)
        self.hidden = sorted((a for a in attempts if a.hid_delivery), key=lambda a: a.at)
        self.confirms: dict[tuple[str, JobState], list[float]] = defaultdict(list)
        for confirm in confirms:
            with contextlib.suppress(ValueError):
                self.confirms[(confirm.job_id, confirm.state)].append(confirm.at)
        for times in self.confirms.values():
            times.sort()

    def confirm_after(self, job_id: str, state: JobState, first: Delivery) -> float | None:
        """The ledger's first confirm of the state at or after the report `first`."""
        for at in self.confirms.get((job_id, state), []):
            if at >= first.at - SLACK_SECONDS:
                return at
        return None

    def of_repeat(
        self, job_id: str, state: JobState, first: Delivery, repeat: Delivery
    ) -> Cause | None:
        """The window runs from the report repeated to the ledger's confirm of it (a designed
        repeat comes from a retry, which confirms after it sends); with no confirm seen, to
        the repeat. A repeat after the confirm has no designed cause at all."""
        confirm = self.confirm_after(job_id, state, first)
        if confirm is not None and confirm < repeat.at - SLACK_SECONDS:
            return None
        confirmed = confirm is not None
        start = first.at - SLACK_SECONDS
        end = (confirm if confirm is not None else repeat.at) + SLACK_SECONDS
        senders = SENDERS.get(state, DEFAULT_SENDERS)
        for kill in self.kills:
            if start <= kill.at <= end and kill.kind in senders:
                held = next((h for h in kill.held if h.startswith(f"{job_id} ")), None)
                text = (
                    f"kill of {kill.role} (pid {kill.pid}) at {_clock(kill.at, ms=True)}, "
                    f"{(kill.at - first.at) * 1000:.0f} ms after the first send"
                    + (f", holding the claim {held}" if held else "")
                    + ("" if confirmed else " (confirm not seen: window to the repeat)")
                )
                return Cause("kill", text, confirmed)
        for attempt in self.hidden:
            if start <= attempt.at <= end and job_id in attempt.text:
                if attempt.chat_id is not None and attempt.chat_id != first.chat_id:
                    continue
                text = (
                    f"{attempt.status} after delivery on {attempt.method} at "
                    f"{_clock(attempt.at, ms=True)}"
                )
                return Cause("5xx", text, confirmed)
        return None

    def step_kills(self, truth: JobTruth) -> str:
        """The kills of a lost step's workers (its role: the activity's prefix) while it ran,
        when the step ran out of attempts on a timeout; "" when there were none."""
        for activity_name, scheduled_at, timed_out_at in truth.lost_steps:
            kind = activity_name.split(".", 1)[0]
            lo, hi = scheduled_at - SLACK_SECONDS, timed_out_at + SLACK_SECONDS
            hits = [k for k in self.kills if lo <= k.at <= hi and k.kind == kind]
            if hits:
                times = ", ".join(_clock(k.at) for k in hits)
                return f"{activity_name} ran out of attempts; kills of {kind} at {times}"
        return ""

    def worker_died(self, retry: Retry, server_restarts: Sequence[float]) -> bool:
        """A kill of a role that runs notify activities, or a dev-server restart, between the
        activity's schedule and its retry."""
        lo, hi = retry.scheduled_at - SLACK_SECONDS, retry.retried_at + SLACK_SECONDS
        if any(lo <= at <= hi for at in server_restarts):
            return True
        return any(lo <= k.at <= hi and k.kind in DEFAULT_SENDERS for k in self.kills)


def _clock(at: float, *, ms: bool = False) -> str:
    when = datetime.fromtimestamp(at, UTC)
    return when.strftime("%H:%M:%S") + (f".{when.microsecond // 1000:03d}" if ms else "")


# --- reading the truth from Temporal -------------------------------------------------------------
def _seconds(stamp: Any) -> float:
    return float(stamp.ToDatetime().replace(tzinfo=UTC).timestamp())


async def job_truth(client: Client, workflow_id: str, run_id: str | None = None) -> JobTruth:
    """One job from its history: the spec it started with, every JobStatus it took, its end."""
    payload_converter = default_converter().payload_converter
    spec: JobSpec | None = None
    states: list[tuple[JobState, float]] = []
    final: JobState | None = None
    final_at: float | None = None
    scheduled: dict[int, tuple[str, float]] = {}
    retries: list[Retry] = []
    steps: dict[int, tuple[str, float]] = {}
    lost_steps: list[tuple[str, float, float]] = []
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            started = event.workflow_execution_started_event_attributes
            spec = (await client.data_converter.decode(started.input.payloads, [JobSpec]))[0]
            # A job may start in its first state already (JobStatus=running at start: no
            # upsert for it in the history).
            raw = started.search_attributes.indexed_fields.get("JobStatus")
            if raw is not None:
                with contextlib.suppress(ValueError):
                    value = payload_converter.from_payload(raw, str)
                    states.append((JobState(value), _seconds(event.event_time)))
        elif event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            raw = fields.indexed_fields.get("JobStatus")
            if raw is not None:
                value = payload_converter.from_payload(raw, str)
                try:
                    states.append((JobState(value), _seconds(event.event_time)))
                except ValueError:
                    pass
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name.startswith("notify."):
                scheduled[event.event_id] = (attrs.activity_type.name, _seconds(event.event_time))
            elif attrs.activity_type.name.startswith(("execution.", "research.")):
                steps[event.event_id] = (attrs.activity_type.name, _seconds(event.event_time))
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            timed_out = event.activity_task_timed_out_event_attributes
            if timed_out.scheduled_event_id in steps:
                name, at = steps[timed_out.scheduled_event_id]
                lost_steps.append((name, at, _seconds(event.event_time)))
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            failure = attrs.last_failure
            if (
                attrs.scheduled_event_id in scheduled
                and attrs.attempt > 1
                and failure.HasField("timeout_failure_info")
            ):
                name, at = scheduled[attrs.scheduled_event_id]
                kind = TimeoutType.Name(failure.timeout_failure_info.timeout_type)
                retries.append(
                    Retry(
                        workflow_id,
                        name,
                        at,
                        _seconds(event.event_time),
                        kind.removeprefix("TIMEOUT_TYPE_").lower(),
                    )
                )
        elif event.event_type in _CLOSE_STATES:
            closed = _CLOSE_STATES[event.event_type]
            last = states[-1] if states else None
            if last is not None and last[0].is_final:
                final, final_at = last
            else:
                final, final_at = closed, _seconds(event.event_time)
    if spec is None:
        raise LookupError(f"{workflow_id} has no start event")
    if not states:
        states.append((JobState.queued, 0.0))
    return JobTruth(
        job_id=workflow_id,
        chat_id=spec.report_chat_id,
        topic_id=spec.topic_id,
        notify=spec.notify,
        states=tuple(states),
        final=final,
        final_at=final_at,
        goal=spec.goal[-60:],
        scheduled=spec.schedule_id is not None,
        requested=spec.requested_by is not None,
        retries=tuple(retries),
        lost_steps=tuple(lost_steps),
    )


async def load_truth(client: Client, concurrency: int = 8) -> list[JobTruth]:
    """Every JobWorkflow execution in the namespace (visibility lists them; each history is
    read in full, so nothing is taken from visibility but the ids)."""
    ids: list[tuple[str, str | None]] = []
    async for wf in client.list_workflows("WorkflowType = 'JobWorkflow'", page_size=1000):
        ids.append((wf.id, wf.run_id))
    gate = asyncio.Semaphore(concurrency)

    async def one(workflow_id: str, run_id: str | None) -> JobTruth:
        async with gate:
            return await job_truth(client, workflow_id, run_id)

    return list(await asyncio.gather(*(one(w, r) for w, r in ids)))
