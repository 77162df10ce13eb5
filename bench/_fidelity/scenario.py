"""The scripted day, compressed: chats of every kind, jobs with random outcomes, people pressing
Retry and Cancel, recurring jobs, every notify policy, heartbeats (one with a scripted LLM
answering ack-token variants) — while processes are SIGKILLed, the dev server restarts and the
Bot API answers 429 and 502.

People act only on what the chat shows them: a Retry or Cancel press follows the message that
offers it, so a lost message also loses the press (and the job then meets its deadline)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql
from temporalio.client import Client
from temporalio.service import RPCError

from activities.sandbox import SYSTEM_PATHS
from bench._fidelity.deploy import ROLES, Deployment
from bench._fidelity.judge import (
    Confirm,
    Delivery,
    Kill,
    QuietWindow,
    RateWait,
    SendAttempt,
    state_reports,
)
from bench._fidelity.records import job_kind, role_kind
from core.domain.ids import chat_folder
from core.domain.jobs.models import JobState, JobStatus, NotifyPolicy
from core.domain.jobs.planner import Planner
from core.io.db import Database
from core.io.jobs.client import JobClient
from core.io.plugins import discover_workers
from core.io.settings import Settings
from core.io.tables import ReportLedger
from tests.support.botapi import BotApiEmulator
from tests.support.llm_server import ScriptedLLM, text

log = logging.getLogger("fidelity")

ACK_VARIANTS = (  # markup-wrapped tokens first, so even a short run meets them
    "<b>HEARTBEAT_OK</b>",
    "&nbsp;HEARTBEAT_OK&nbsp;",
    "**HEARTBEAT_OK**",
    "HEARTBEAT_OK",
    "HEARTBEAT_OK — disk on /var is at 91%, above the 80% limit",
    "Disk on /var is at 91%, above the 80% limit.",
)
REPEATED_ALERT = "Disk on /var is at 91%, above the 80% limit."
FAULTED_METHODS = ("sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument")
RECURRING_SECONDS = 30
PRESS_CHECK_SECONDS = 10.0
PRESS_ATTEMPTS = 6

# A "live" job runs LIVE_TICKS × 0.5 s: past LIVE_CARD_AFTER_SECONDS, so its card goes live and
# gets a few refreshes, LIVE_CARD_INTERVAL_SECONDS apart.
LIVE_TICKS = 16
LIVE_CARD_AFTER_SECONDS = 2
LIVE_CARD_INTERVAL_SECONDS = 2

TASK_NAME = "fidtask.py"
TASK_SCRIPT = '''"""A fidelity job step: behaves as its kind says (run in the job's workspace)."""
import os, sys, time
LIVE_TICKS = @LIVE_TICKS@
kind, n = sys.argv[1], sys.argv[2]
runs = int(open("runs").read()) if os.path.exists("runs") else 0
open("runs", "w").write(str(runs + 1))
if kind == "long":
    for i in range(400):
        print(f"line {i:03d} of job {n}: " + "x" * 60)
elif kind == "fail_retry" and runs < 3:
    print(f"job {n}: transient failure {runs + 1}")
    sys.exit(1)
elif kind in ("fail_cancel", "fail_wait"):
    print(f"job {n}: failure")
    sys.exit(1)
elif kind == "live":
    for i in range(LIVE_TICKS):
        print(f"job {n}: step {i} of {LIVE_TICKS}", flush=True)
        time.sleep(0.5)
elif kind == "slow":
    for i in range(60):
        print(f"job {n}: tick {i}", flush=True)
        time.sleep(0.5)
else:
    time.sleep(int(n) % 7 / 10)
    print(f"job {n}: ok")
'''.replace("@LIVE_TICKS@", str(LIVE_TICKS))


@dataclass(frozen=True)
class Target:
    """A heartbeat target and a place where people ask for jobs."""

    chat_id: int
    topic_id: int | None
    chat_type: str  # private | supergroup
    users: tuple[int, ...]
    quiet: bool = False
    llm: bool = False

    @property
    def label(self) -> str:
        return f"{self.chat_id}" + (f":{self.topic_id}" if self.topic_id else "")


def make_targets(sets: int) -> tuple[Target, ...]:
    """`sets` copies of: three private chats (one quiet, the first set's second one with the
    LLM heartbeat), two groups (one quiet), a forum with two topics (one quiet). More sets keep
    each chat at a pace a real chat sees (a group may get 20 messages a minute)."""
    out: list[Target] = []
    for i in range(sets):
        u, g = 1001 + 3 * i, -1001000 - 10 * i
        out += [
            Target(u, None, "private", (u,)),
            Target(u + 1, None, "private", (u + 1,), llm=i == 0),
            Target(u + 2, None, "private", (u + 2,), quiet=True),
            Target(g - 1, None, "supergroup", (u, u + 1)),
            Target(g - 2, None, "supergroup", (u + 1, u + 2), quiet=True),
            Target(g - 3, 11, "supergroup", (u, u + 2)),
            Target(g - 3, 12, "supergroup", (u + 1,), quiet=True),
        ]
    return tuple(out)


# (kind, how it is asked for, notify policy, weight)
MIX: tuple[tuple[str, str, NotifyPolicy, int], ...] = (
    ("ok", "chat", NotifyPolicy.state_changes, 30),
    ("live", "chat", NotifyPolicy.state_changes, 4),  # runs past the live-card threshold
    ("long", "chat", NotifyPolicy.state_changes, 6),
    ("fail_retry", "chat", NotifyPolicy.state_changes, 8),
    ("fail_cancel", "chat", NotifyPolicy.state_changes, 6),
    ("fail_wait", "chat", NotifyPolicy.state_changes, 4),
    ("slow", "chat", NotifyPolicy.state_changes, 6),  # Cancel pressed while it runs
    ("ok", "api", NotifyPolicy.state_changes, 4),
    ("ok", "api", NotifyPolicy.done_only, 10),
    ("fail_wait", "api", NotifyPolicy.done_only, 3),
    ("ok", "api", NotifyPolicy.silent, 10),
    ("fail_wait", "api", NotifyPolicy.silent, 3),
)


@dataclass
class Config:
    jobs: int = 1000
    kills: int = 100
    out: Path = Path("fidelity-report")
    seed: int = 1
    rate: float = 2.0  # jobs asked for per second of the scripted day
    settle: float = 150.0  # after every job closed: how long stragglers may still arrive
    close_timeout: float = 300.0
    sqlite: bool = False
    aimed_kills: int | None = None
    server_restart: bool = True

    @property
    def sets(self) -> int:
        """Sets of seven targets (six chats): about one job per 30 s per chat at the day's rate,
        a pace a group chat's Telegram limit (20 messages a minute) carries with room to spare."""
        return max(1, math.ceil(self.rate * 30 / 6))

    @property
    def targets(self) -> tuple[Target, ...]:
        return make_targets(self.sets)

    @property
    def aimed(self) -> int:
        if self.aimed_kills is not None:
            return min(self.aimed_kills, self.kills)
        return min(self.kills, max(1, self.kills // 20)) if self.kills else 0


@dataclass(frozen=True)
class PlannedJob:
    n: int
    kind: str
    via: str
    notify: NotifyPolicy
    target: Target
    at: float  # seconds into the day


@dataclass
class Day:
    """What the day did, for the judge and the report."""

    started: float = field(default_factory=time.time)
    asked: int = 0
    api_started: int = 0
    api_failed: int = 0
    schedules: list[str] = field(default_factory=list)
    presses: int = 0
    pressed_for: int = 0
    quiet: list[QuietWindow] = field(default_factory=list)
    day_end: float = 0.0
    closed_at: float = 0.0
    unclosed: int = 0


def plan_day(config: Config, rng: random.Random) -> list[PlannedJob]:
    recurring = max(1, config.jobs // 200) if config.jobs >= 20 else 0
    duration = config.jobs / config.rate
    runs = int(recurring * duration // RECURRING_SECONDS)
    count = max(1, config.jobs - runs - recurring)
    weights = [w for *_, w in MIX]
    targets = config.targets
    shares = [0.5 if t.topic_id is not None else 1.0 for t in targets]  # a forum is one chat
    plan = []
    for n in range(count):
        kind, via, notify, _ = rng.choices(MIX, weights)[0]
        at = n / config.rate + rng.uniform(0, 0.5 / config.rate)
        plan.append(PlannedJob(n, kind, via, notify, rng.choices(targets, shares)[0], at))
    return plan


class Scenario:
    def __init__(
        self,
        config: Config,
        deploy: Deployment,
        db: Database,
        emu: BotApiEmulator,
        llm: ScriptedLLM,
        settings: Settings,
    ) -> None:
        self.config = config
        self.deploy = deploy
        self.db = db
        self.emu = emu
        self.llm = llm
        self.settings = settings
        self.rng = random.Random(config.seed)
        self.targets = config.targets
        self.day = Day()
        self.python = sandbox_python()
        for target in self.targets:
            place_task_script(settings.workspaces_dir / chat_folder(target.chat_id))
        self.registry = discover_workers(settings.worker_plugins)
        self.planner = Planner(self.registry, settings)
        self._offset = time.time() - time.monotonic()
        self._seen = 0
        self._kinds: dict[str, str] = {}
        self._handled: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.kills_done = 0
        self.stop_chaos = asyncio.Event()
        self.confirms: dict[tuple[str, str], float] = {}  # (job, ledger status) → reported_at

    @property
    def client(self) -> Client:
        assert self.deploy.client is not None
        return self.deploy.client

    def wall(self, monotonic: float) -> float:
        return monotonic + self._offset

    def command(self, kind: str, n: int | str) -> str:
        return task_command(self.python, kind, n)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- people talking to the bot ------------------------------------------------------------
    def say(self, target: Target, words: str, user: int | None = None) -> None:
        self.emu.inject_message(
            words,
            user_id=user or self.rng.choice(target.users),
            chat_id=target.chat_id,
            chat_type=target.chat_type,
            topic_id=target.topic_id,
        )

    async def ask_and_wait(self, target: Target, words: str, expect: str, timeout: float) -> float:
        """Say something and wait for the bot's answer in that place; its wall time."""
        mark = len(self.emu.sent)
        self.say(target, words)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.emu.sent[mark:]:
                if (
                    message.chat_id == target.chat_id
                    and message.message_thread_id == target.topic_id
                    and expect in (message.plain_text or "")
                ):
                    return self.wall(message.at)
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no answer containing {expect!r} to {words!r} in {target.label}")

    async def setup(self) -> None:
        """Every target's heartbeat, quiet hours where planned, the LLM heartbeat's prompt,
        and the recurring jobs — before any chaos, so the judge knows when each took effect."""
        now = datetime.now(UTC)
        start = (now.hour * 60 + now.minute - 1) % 1440
        end = (start + 240) % 1440
        window = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
        gate = asyncio.Semaphore(6)

        async def prepare(target: Target) -> None:
            async with gate:
                await self.ask_and_wait(target, "/heartbeat on", "Heartbeat on", 90)
                if target.quiet:
                    since = await self.ask_and_wait(
                        target, f"/heartbeat set quiet_hours {window}", "quiet", 90
                    )
                    self.day.quiet.append(
                        QuietWindow(target.chat_id, target.topic_id, start, end, since)
                    )
                if target.llm:
                    await self.ask_and_wait(
                        target, "/heartbeat set workspace_file_path none", "workspace_file", 90
                    )
                    await self.ask_and_wait(
                        target,
                        "/heartbeat set prompt Check the box; alert me when disk use is above 80%.",
                        "prompt",
                        90,
                    )

        await asyncio.gather(*(prepare(t) for t in self.targets))
        recurring = max(1, self.config.jobs // 200) if self.config.jobs >= 20 else 0
        for index in range(recurring):
            target = self.targets[index % len(self.targets)]
            await self.ask_and_wait(
                target,
                f"/every {RECURRING_SECONDS}s {self.command('ok', 9000 + index)}",
                "jobsched-",
                90,
            )
            for message in reversed(self.emu.sent):
                match = re.search(r"jobsched-[a-z0-9]+", message.plain_text or "")
                if match and message.chat_id == target.chat_id:
                    self.day.schedules.append(match.group(0))
                    break

    def faults_on(self) -> None:
        """30% 429 (retry_after 1) and 10% 502 on every send and edit; half of the 502s come
        after the message was delivered (a hidden delivery)."""
        self.emu.set_fault_rate(
            0.4,
            statuses=(429, 429, 429, 502),
            methods=FAULTED_METHODS,
            seed=self.config.seed,
            retry_after=1,
            applied_share=0.5,
        )

    # --- the day --------------------------------------------------------------------------------
    async def run_day(self, plan: list[PlannedJob]) -> None:
        begin = time.monotonic()
        for job in plan:
            delay = begin + job.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if job.via == "chat":
                self.say(job.target, f"/exec {self.command(job.kind, job.n)}")
                self.day.asked += 1
            else:
                self._spawn(self._start_api_job(job))
        self.day.day_end = time.time()

    async def _start_api_job(self, job: PlannedJob) -> None:
        """A job started from code with a JobSpec (the only way to choose a notify policy
        today), as a tool or an integration would."""
        spec = self.planner.exec_job(
            self.command(job.kind, job.n),
            chat_id=job.target.chat_id,
            topic_id=job.target.topic_id,
            notify=job.notify,
        )
        jobs = JobClient(self.client, self.registry)
        for attempt in range(30):
            try:
                await jobs.start(spec)
                self.day.api_started += 1
                return
            except RPCError as exc:
                if "already" in str(exc).lower():
                    self.day.api_started += 1
                    return
                await asyncio.sleep(min(0.5 * 2**attempt, 5.0))
        self.day.api_failed += 1

    # --- people reacting to what they see --------------------------------------------------------
    async def react(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            new = self.emu.sent[self._seen :]
            self._seen += len(new)
            for message in new:
                for job_id, state in state_reports(message.plain_text or ""):
                    place = (message.chat_id, message.message_thread_id)
                    self._spawn(self._react_to(job_id, state, place, message.message_id))
            await asyncio.sleep(0.2)

    async def _kind(self, job_id: str) -> str:
        if job_id not in self._kinds:
            try:
                desc = await self.client.get_workflow_handle(job_id).describe()
                goal = str((await desc.memo()).get("goal", ""))
            except Exception:
                return ""
            self._kinds[job_id] = job_kind(goal)
        return self._kinds[job_id]

    async def _react_to(
        self, job_id: str, state: JobState, place: tuple[int, int | None], message_id: int
    ) -> None:
        kind = await self._kind(job_id)
        action = None
        if state is JobState.needs_attention and kind == "fail_retry":
            action = "retry"
        elif state is JobState.needs_attention and kind == "fail_cancel":
            action = "cancel"
        elif state is JobState.running and kind == "slow":
            action = "cancel"
            await asyncio.sleep(1.5)
        if action is None or (job_id, action) in self._handled:
            return
        self._handled.add((job_id, action))
        self.day.pressed_for += 1
        target = next((t for t in self.targets if (t.chat_id, t.topic_id) == place), None)
        if target is None:
            return
        for _ in range(PRESS_ATTEMPTS):
            with contextlib.suppress(ValueError):
                self.emu.inject_callback(
                    f"{action}:{job_id}",
                    user_id=self.rng.choice(target.users),
                    chat_id=target.chat_id,
                    message_id=message_id,
                )
                self.day.presses += 1
            await asyncio.sleep(PRESS_CHECK_SECONDS)
            if await self._press_took(job_id, action):
                return

    async def _press_took(self, job_id: str, action: str) -> bool:
        """Whether the job moved on after a press (a press the bot never handled, because it
        was killed, is pressed again, as a person would)."""
        handle = self.client.get_workflow_handle(job_id)
        try:
            desc = await handle.describe()
            if desc.close_time is not None:
                return True
            status = await handle.query("status", result_type=JobStatus)
        except Exception:
            return False
        # A cancelled job is still telling its chat; a retried one is running again.
        if action == "cancel":
            return status.state is JobState.cancelled
        return status.state is not JobState.needs_attention

    # --- chaos -----------------------------------------------------------------------------------
    async def chaos(self, duration: float) -> None:
        """SIGKILL a random role every few seconds (each restarted at once), a few kills aimed
        between a ledger claim and its confirm, and one dev-server restart half-way."""
        plain = self.config.kills - self.config.aimed
        aimed_at = sorted(self.rng.uniform(0.1, 0.9) * duration for _ in range(self.config.aimed))
        kill_at = [duration * (i + 0.5) / plain for i in range(plain)] if plain else []
        restart_at = duration * 0.5 if self.config.server_restart else None
        begin = time.monotonic()
        agenda: list[tuple[float, str]] = [(t, "kill") for t in kill_at]
        agenda += [(t, "aimed") for t in aimed_at]
        if restart_at is not None:
            agenda.append((restart_at, "server"))
        agenda.sort()
        names = [name for name, _ in ROLES]
        for when, what in agenda:
            delay = begin + when - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self.stop_chaos.wait(), delay)
                    return
                except TimeoutError:
                    pass
            if what == "kill":
                name = self.rng.choice(names)
                await self.deploy.kill(name, held=await self._claims())
                self.kills_done += 1
            elif what == "aimed":
                await self._aimed_kill()
                self.kills_done += 1
            else:
                await self.deploy.restart_server()

    async def _aimed_kill(self, window: float = 20.0) -> None:
        """Kill an operator worker while a report_ledger row is claimed but not confirmed (the
        moment between a claim and its confirm); if none is seen in `window`, kill anyway."""
        deadline = time.monotonic() + window
        detail = "no claim seen"
        while time.monotonic() < deadline:
            try:
                async with self.db.session() as session:
                    row = (
                        await session.execute(
                            sql(
                                "SELECT job_id, claim_status FROM report_ledger "
                                "WHERE claim_status IS NOT NULL LIMIT 1"
                            )
                        )
                    ).first()
            except Exception:
                row = None
            if row is not None:
                detail = f"{row[0]} claimed {row[1]}"
                break
            await asyncio.sleep(0.02)
        # The ledger names a claim's workflow, not its process: one of the two operator
        # workers is killed, and the judge reads a kill of either as a kill of a sender.
        name = self.rng.choice([n for n in self.deploy.roles if role_kind(n) == "operator"])
        await self.deploy.kill(name, kind="aimed-kill", detail=detail, held=await self._claims())

    async def _claims(self) -> tuple[str, ...]:
        """The ledger claims live right now ("job-x needs_attention"): what a sender held."""
        try:
            async with self.db.session() as session:
                rows = (
                    await session.execute(
                        select(ReportLedger.job_id, ReportLedger.claim_status).where(
                            ReportLedger.claim_status.is_not(None)
                        )
                    )
                ).all()
        except Exception:
            return ()
        return tuple(f"{job_id} {status}" for job_id, status in rows)

    async def watch_ledger(self, stop: asyncio.Event, every: float = 0.2) -> None:
        """Record each ledger confirm (a job's status and its `reported_at`) as it appears.
        A row keeps only its last status, so it is read often; a status overwritten between
        two reads is missed, and the judge then says so for any repeat of it."""
        since = datetime.fromtimestamp(0, UTC)
        while not stop.is_set():
            try:
                async with self.db.session() as session:
                    rows = (
                        await session.execute(
                            select(
                                ReportLedger.job_id,
                                ReportLedger.last_reported_status,
                                ReportLedger.reported_at,
                            ).where(ReportLedger.reported_at >= since)
                        )
                    ).all()
            except Exception:
                rows = []
            for job_id, status, at in rows:
                if status is not None and at is not None:
                    self.confirms.setdefault((job_id, status), at.timestamp())
                    # Writers commit out of order by a little: look back a few seconds.
                    since = max(since, at - timedelta(seconds=5))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    def confirm_records(self) -> list[Confirm]:
        return [Confirm(job, status, at) for (job, status), at in self.confirms.items()]

    def kill_records(self) -> list[Kill]:
        return [
            Kill(
                e.at,
                e.role,
                e.pid,
                " ".join(self.deploy.roles[e.role].argv[1:]),
                e.held,
                aimed=e.kind == "aimed-kill",
            )
            for e in self.deploy.events
            if e.kind in ("kill", "aimed-kill")
        ]

    def server_restarts(self) -> list[float]:
        """Each dev-server restart, from its stop to it being up again (both ends)."""
        return [e.at for e in self.deploy.events if e.kind == "server-restart"]

    def send_attempts(self) -> list[SendAttempt]:
        """Every send and edit the emulator answered, with its outcome."""
        out = []
        for call in list(self.emu.calls):
            if call.method not in FAULTED_METHODS:
                continue
            chat = call.params.get("chat_id")
            text = call.params.get("text") or call.params.get("caption") or ""
            message = call.params.get("message_id")
            out.append(
                SendAttempt(
                    self.wall(call.at),
                    chat if isinstance(chat, int) else None,
                    call.method,
                    call.status,
                    call.applied,
                    str(text),
                    call.description or "",
                    message if isinstance(message, int) else None,
                )
            )
        return out

    # --- the end of the day ---------------------------------------------------------------------
    async def end_day(self) -> None:
        """Recurring jobs stop (their runs in flight finish); then wait, bounded, until every
        job has closed."""
        for schedule_id in self.day.schedules:
            with contextlib.suppress(Exception):
                await self.client.get_schedule_handle(schedule_id).delete()
        deadline = time.monotonic() + self.config.close_timeout
        query = "WorkflowType = 'JobWorkflow' AND ExecutionStatus = 'Running'"
        running = -1
        while time.monotonic() < deadline:
            try:
                running = (await self.client.count_workflows(query)).count
            except Exception:
                running = -1
            if running == 0:
                break
            await asyncio.sleep(2.0)
        self.day.unclosed = max(running, 0)
        self.day.closed_at = time.time()

    # --- what the emulator saw -------------------------------------------------------------------
    def deliveries(self) -> list[Delivery]:
        return [
            Delivery(
                chat_id=m.chat_id,
                thread_id=m.message_thread_id,
                text=m.plain_text or "",
                at=self.wall(m.at),
                hidden_status=m.hidden_status,
                message_id=m.message_id,
            )
            for m in [*self.emu.sent, *self._results_edited_in()]
        ]

    def _results_edited_in(self) -> list[Any]:
        """Cards edited into a result (a fast job's one message), each once. A card following
        its job (it keeps its `plan:` line) reports nothing new, and neither does a summary
        edited into a result that was already sent."""
        # An edit of a message already delivered with the same heading (a result that had the
        # model's summary edited into it) is the same message, not a second report.
        seen: set[tuple[int, int, str]] = {
            (m.chat_id, m.message_id, (m.plain_text or "").split("\n", 1)[0])
            for m in list(self.emu.sent)
        }
        out = []
        for m in list(self.emu.edits):
            text = m.plain_text or ""
            if "\nplan: " in text:
                continue
            key = (m.chat_id, m.message_id, text.split("\n", 1)[0])
            if key not in seen:
                seen.add(key)
                out.append(m)
        return out

    def waits(self) -> list[RateWait]:
        out = []
        for call in list(self.emu.calls):
            if call.status == 429 and call.retry_after:
                chat = call.params.get("chat_id")
                if isinstance(chat, int):
                    out.append(RateWait(chat, self.wall(call.at), float(call.retry_after)))
        return out

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def llm_script() -> ScriptedLLM:
    """The LLM heartbeat's model: each ack-token variant once, then the same alert forever."""
    return ScriptedLLM([text(v) for v in ACK_VARIANTS] + [text(REPEATED_ALERT)], repeat_last=True)


def sandbox_python() -> str:
    """A Python a sandboxed command can start: bubblewrap shows it the system's paths only, so
    this process's own interpreter (a virtualenv under the repo or the home folder) is used
    only when it lives there too."""

    def visible(path: str) -> bool:
        real = os.path.realpath(path)
        return any(real == root or real.startswith(root + "/") for root in SYSTEM_PATHS)

    if visible(sys.executable):
        return sys.executable
    system = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    return system if system is not None and visible(system) else sys.executable


def place_task_script(folder: Path) -> None:
    """The task script in `folder` (a chat's folder), readable by the sandbox's user: a
    sandboxed command sees its own chat's folder and the system's paths, nothing else of the
    machine (not the data folder, not this virtualenv)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / TASK_NAME
    script.write_text(TASK_SCRIPT, encoding="utf-8")
    script.chmod(0o644)


def task_command(python: str, kind: str, n: int | str) -> str:
    """The job's command: the chat folder's task script, opened from the job's workspace (its
    cwd, inside the chat folder) by a relative name. Inside the sandbox the folders above the
    chat's are not searchable by the command's user, and Python would make a script's path
    absolute, so the script is read and run with `-c`."""
    return f"{python} -I -S -c \"exec(open('../{TASK_NAME}').read())\" {kind} {n}"


def deployment_env(emu: BotApiEmulator, targets: tuple[Target, ...]) -> dict[str, str]:
    """The settings every role gets (environment variables, as a deployment sets them)."""
    from tests.support.stack import TEST_TOKEN

    users = sorted({u for t in targets for u in t.users})
    groups = sorted({t.chat_id for t in targets if t.chat_type != "private"})
    return {
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_BASE_URL": emu.base_url,
        "TELEGRAM_ALLOWED_USER_IDS": ",".join(str(u) for u in users),
        "TELEGRAM_ALLOWED_CHAT_IDS": ",".join(str(g) for g in groups),
        "TELEGRAM_POLL_TIMEOUT": "2",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "HEARTBEAT_INTERVAL_MINUTES": "1",
        "HEARTBEAT_COOLDOWN_MINUTES": "0",
        "HEARTBEAT_PUSH_GRACE_SECONDS": "10",
        "NEEDS_ATTENTION_TIMEOUT_MINUTES": "1",
        # The day is compressed: recurring jobs fire every 30 s (the product's floor is 60 s).
        "SCHEDULE_MIN_INTERVAL_SECONDS": "10",
        "TASK_MAX_RUN_SECONDS": "120",
        # Cards go live sooner and refresh more often than by default, so a compressed day's
        # long jobs (8 s) get live cards, and their edits meet the chats' other messages.
        "LIVE_CARD_AFTER_SECONDS": str(LIVE_CARD_AFTER_SECONDS),
        "LIVE_CARD_INTERVAL_SECONDS": str(LIVE_CARD_INTERVAL_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
