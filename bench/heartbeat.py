"""The heartbeat at scale: one tick for one target and for every target, and its LLM calls.

    .venv/bin/python bench/heartbeat.py [--chats 1000] [--jobs-per-chat 10] [--changed 0.01]
                                        [--spread-seconds 60] [--interval-minutes 15]
    .venv/bin/python bench/heartbeat.py --chats 10000 --jobs-per-chat 1   (the 10,000-chat run)

Set-up (own dev server, in memory, same flags as `hbo up`):
- 10,000 jobs across 1,000 chats as *real workflow executions* of type JobWorkflow with the
  search attributes and memo a real job has (ReportChatId, JobStatus, WorkerName; goal, topic).
  They are started on a task queue nobody polls, so no job code runs; the finished ones are then
  terminated, which closes them exactly like a finished job in visibility (CloseTime set; the
  JobStatus attribute keeps the job's own final state). 5 % stay running.
- The report ledger says every job was told its current state, except 1 % of them: jobs that
  finished after the last heartbeat and whose own push never confirmed (the changes to report).
- 1,000 heartbeat targets (one per chat), each with an (item-less) HEARTBEAT.md, and an LLM
  "configured" at a local counting server: an idle tick must not call it.

Measured: a tick = one HeartbeatWorkflow run, end to end (workers in this process, sends to a
counting sender instead of Telegram). Prints one target's tick (idle and with a change), the
jobs each tick examined, messages sent, LLM calls, and, each beside a bare workflow (one no-op
activity) measured the same way in the same run:

- herd: every target due at the same instant (the old epoch-aligned rule; still what
  `clock_aligned` targets do): tick rate, lag from the due time to the tick's first step
  (p50/p99/max), the worst workflow task (server-side WorkflowTaskStarted → Completed, from the
  histories), CPU per tick;
- spread: ticks arriving at each target's own offset, at the real rate of `--chats` targets over
  `--interval-minutes` (10,000 chats at 15 minutes = 11.1 ticks/s), for `--spread-seconds`:
  the same figures;
- an idle chat's cost: activities, history events and CPU per idle tick, and per hour;
- memory: resident size of this process (the workers) and of the dev server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from activities.heartbeat.changes import VISIBILITY_MARGIN, ChangeActivities
from activities.heartbeat.deps import HeartbeatDeps
from bench._baseline import BASELINE_QUEUE, BaselineWorkflow, noop
from bench._server import temporal_dev_server
from core.domain.heartbeat.config import defaults_from_settings
from core.domain.heartbeat.models import GatherRequest, HeartbeatRunSummary
from core.domain.heartbeat.schedule_spec import spread_offset
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.models import JobSpec, JobState
from core.domain.jobs.planner import Planner
from core.domain.messages import Button, ChatMessage
from core.domain.temporal_names import (
    OPERATOR_QUEUE,
    SA_JOB_STATUS,
    SA_REPORT_CHAT_ID,
    SA_WORKER_NAME,
)
from core.io.heartbeat.defaults import default_checklist_template
from core.io.heartbeat.store import HeartbeatStore
from core.io.jobs.client import job_memo
from core.io.store import insert_statement
from core.io.tables import HeartbeatTargetRow, ReportLedger
from hbo.isolated_worker import WORKFLOW_TASK_SLOTS
from hbo.runtime import open_runtime
from hbo.workers import queue_contents
from tests.support.stack import free_port, make_settings

IDLE_QUEUE = "bench-nobody-polls-this"


class CountingSender:
    """Stands in for Telegram: counts what the heartbeat would have sent."""

    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []

    async def send(
        self, message: ChatMessage, skip_chunks: int = 0, on_sent: Any = None
    ) -> list[int]:
        self.messages.append(message)
        return [len(self.messages)]

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: list[Button]) -> bool:
        return False

    async def send_photo(self, *args: Any, **kwargs: Any) -> int:
        return 0

    async def close(self) -> None:
        return None


class CountingLLM:
    """An OpenAI-compatible endpoint that only counts requests (an idle tick must make none)."""

    def __init__(self) -> None:
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.port = free_port()

    async def __aenter__(self) -> CountingLLM:
        async def completions(request: web.Request) -> web.Response:
            self.requests += 1
            return web.json_response({"error": {"message": "bench"}}, status=500)

        app = web.Application()
        app.router.add_post("/v1/chat/completions", completions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


class StepLog(Interceptor):
    """When each workflow's first activity started (its tick began working), and how many
    activities each workflow ran — local ones included."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        log = self

        class _Inbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                workflow_id = activity.info().workflow_id or ""
                log.first.setdefault(workflow_id, time.time())
                log.count[workflow_id] = log.count.get(workflow_id, 0) + 1
                return await super().execute_activity(input)

        return _Inbound(next)


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU of a process (this one by default), from /proc."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def task_times(client: Client, workflow_id: str) -> tuple[list[float], int]:
    """Each workflow task's duration (server's Started → Completed/Failed/TimedOut) in seconds,
    and the history's event count."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    durations: list[float] = []
    started = None
    for event in history.events:
        at = event.event_time.ToDatetime().timestamp()
        if event.HasField("workflow_task_started_event_attributes"):
            started = at
        elif started is not None and (
            event.HasField("workflow_task_completed_event_attributes")
            or event.HasField("workflow_task_failed_event_attributes")
            or event.HasField("workflow_task_timed_out_event_attributes")
        ):
            durations.append(at - started)
            started = None
    return durations, len(history.events)


async def bounded(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def chat_ids(n: int) -> list[int]:
    return [5_000_000 + i for i in range(n)]


async def create_jobs(
    client: Client,
    planner: Planner,
    chats: list[int],
    per_chat: int,
    running_share: float,
    rng: random.Random,
) -> dict[int, list[tuple[str, str]]]:
    """Start the job executions; returns chat -> [(job id, state)]. Running ones stay open."""
    plan: dict[int, list[tuple[str, str]]] = {}
    starts: list[Callable[[], Awaitable[Any]]] = []
    for chat in chats:
        plan[chat] = []
        for index in range(per_chat):
            job_id = f"job-b{chat}-{index}"
            if rng.random() < running_share:
                state = JobState.running.value
            else:
                state = rng.choice([JobState.completed.value] * 8 + [JobState.failed.value] * 2)
            plan[chat].append((job_id, state))
            spec = planner.exec_job(f"echo {index}", chat_id=chat, job_id=job_id)
            starts.append(start_job(client, spec, state))
    await bounded(64, starts)
    return plan


def start_job(client: Client, spec: JobSpec, state: str) -> Callable[[], Awaitable[Any]]:
    """The real job's start (input, search attributes, memo), on a queue nobody polls."""

    async def go() -> None:
        await client.start_workflow(
            "JobWorkflow",
            spec,
            id=spec.job_id,
            task_queue=IDLE_QUEUE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(SA_JOB_STATUS, state),
                    SearchAttributePair(SA_WORKER_NAME, spec.main_step.worker),
                    SearchAttributePair(SA_REPORT_CHAT_ID, spec.report_chat_id),
                ]
            ),
            memo=job_memo(spec),
        )

    return go


async def close_jobs(client: Client, job_ids: list[str]) -> None:
    async def close(job_id: str) -> None:
        await client.get_workflow_handle(job_id).terminate("bench: the job has finished")

    await bounded(64, [lambda j=j: close(j) for j in job_ids])  # type: ignore[misc]


async def wait_visible(client: Client, query: str, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await client.count_workflows(query)).count >= count:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(query)


async def tick(client: Client, target: HeartbeatTarget) -> tuple[float, HeartbeatRunSummary]:
    started = time.perf_counter()
    summary = await client.execute_workflow(
        "HeartbeatWorkflow",
        target,
        id=f"{target.schedule_id}-bench-{uuid.uuid4().hex[:8]}",
        task_queue=OPERATOR_QUEUE,
        result_type=HeartbeatRunSummary,
    )
    return time.perf_counter() - started, summary


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(5)
    data = Path(tempfile.mkdtemp(prefix="hbo-bench-heartbeat-"))
    try:
        async with temporal_dev_server() as (server, client), CountingLLM() as llm:
            settings = make_settings(
                data,
                server.target,
                TELEGRAM_BOT_TOKEN="",
                OPENAI_API_KEY="sk-bench",
                OPENAI_BASE_URL=llm.base_url,
            )
            async with open_runtime(settings, client) as runtime:
                assert server.process is not None
                await run_bench(args, rng, client, runtime, llm, server.process.pid)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def running_chats(plan: dict[int, list[tuple[str, str]]]) -> set[int]:
    return {chat for chat, jobs in plan.items() if any(state == "running" for _, state in jobs)}


async def run_bench(
    args: argparse.Namespace,
    rng: random.Random,
    client: Client,
    runtime: Any,
    llm: CountingLLM,
    server_pid: int,
) -> None:
    chats = chat_ids(args.chats)
    total = args.chats * args.jobs_per_chat
    print(f"creating {total} job executions across {args.chats} chats …", flush=True)
    t0 = time.perf_counter()
    planner = Planner(runtime.registry, runtime.settings)
    plan = await create_jobs(client, planner, chats, args.jobs_per_chat, args.running, rng)
    all_jobs = [(chat, job, state) for chat, jobs in plan.items() for job, state in jobs]
    finished = [(chat, job, state) for chat, job, state in all_jobs if state != "running"]
    changed = rng.sample(finished, max(1, round(total * args.changed)))
    changed_ids = {job for _, job, _ in changed}
    settled = [job for _, job, _ in finished if job not in changed_ids]
    await close_jobs(client, settled)
    await wait_visible(client, "WorkflowType = 'JobWorkflow'", total)
    await wait_visible(
        client, "WorkflowType = 'JobWorkflow' AND ExecutionStatus = 'Terminated'", len(settled)
    )
    print(
        f"  {total} started, {len(settled)} finished in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )

    # The last heartbeat saw everything settled; the changed jobs finish after it. Wait out the
    # visibility margin a tick re-reads, as a steady state has it (old jobs closed long ago).
    print(
        f"  waiting {VISIBILITY_MARGIN.total_seconds():.0f} s (the visibility margin) …", flush=True
    )
    await asyncio.sleep(VISIBILITY_MARGIN.total_seconds() + 5)
    watermark = datetime.now(UTC)
    store = HeartbeatStore(runtime.db)
    now = datetime.now(UTC)
    async with runtime.db.session() as session:
        ledger_rows = [
            {
                "job_id": job,
                "chat_id": chat,
                "last_reported_status": "running" if job in changed_ids else state,
                "reported_at": now,
                "updated_at": now,
            }
            for chat, job, state in all_jobs
        ]
        for start in range(0, len(ledger_rows), 2000):
            await session.execute(
                insert_statement(runtime.db, ReportLedger), ledger_rows[start : start + 2000]
            )
        target_rows = [
            {
                "id": HeartbeatTarget(chat_id=chat).schedule_id,
                "chat_id": chat,
                "topic_id": None,
                "source": "auto",
                "enabled": True,
                "overrides": "{}",
                "changes_checked_until": watermark,
                "created_at": now,
                "updated_at": now,
            }
            for chat in chats
        ]
        await session.execute(insert_statement(runtime.db, HeartbeatTargetRow), target_rows)
    template = default_checklist_template()
    for chat in chats:
        folder = runtime.settings.workspaces_dir / HeartbeatTarget(chat_id=chat).workspace_folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "HEARTBEAT.md").write_text(template)
    await asyncio.sleep(1.0)
    await close_jobs(client, sorted(changed_ids))
    await wait_visible(
        client, "WorkflowType = 'JobWorkflow' AND ExecutionStatus = 'Terminated'", len(finished)
    )
    changed_chats = {chat for chat, _, _ in changed}
    print(
        f"  ledger + {len(chats)} targets ready; {len(changed)} jobs changed "
        f"({len(changed) / total:.1%}) in {len(changed_chats)} chats",
        flush=True,
    )

    sender = CountingSender()

    # Activities see time 2 minutes ahead: past the push grace the changed jobs get.
    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(minutes=2)

    steps = StepLog()
    activities, workflows = queue_contents(runtime, [OPERATOR_QUEUE], sender, clock)  # type: ignore[arg-type]
    workers = [
        Worker(
            client,
            task_queue=queue,
            workflows=workflows[queue],
            activities=activities[queue],
            interceptors=[steps],
            graceful_shutdown_timeout=timedelta(seconds=3),
            max_concurrent_workflow_tasks=args.workflow_task_slots,
        )
        for queue in activities
    ]
    workers.append(
        Worker(
            client,
            task_queue=BASELINE_QUEUE,
            workflows=[BaselineWorkflow],
            activities=[noop],
            interceptors=[steps],
            max_concurrent_workflow_tasks=args.workflow_task_slots,
        )
    )
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await measure(args, client, runtime, chats, changed_chats, sender, llm, store, clock)
        idle = [c for c in chats if c not in changed_chats and c not in running_chats(plan)]
        await measure_load(args, client, chats, idle, steps, server_pid)
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)


async def measure(
    args: argparse.Namespace,
    client: Client,
    runtime: Any,
    chats: list[int],
    changed_chats: set[int],
    sender: CountingSender,
    llm: CountingLLM,
    store: HeartbeatStore,
    clock: Callable[[], datetime],
) -> None:
    idle_chats = [c for c in chats if c not in changed_chats]
    # Warm-up (connections, workflow cache): two idle ticks not measured.
    for chat in idle_chats[:2]:
        await tick(client, HeartbeatTarget(chat_id=chat))
    single_idle = [await tick(client, HeartbeatTarget(chat_id=c)) for c in idle_chats[2:12]]
    single_changed = [
        await tick(client, HeartbeatTarget(chat_id=c)) for c in sorted(changed_chats)[:10]
    ]
    idle_times = [t for t, _ in single_idle]
    changed_times = [t for t, _ in single_changed]
    assert all(s.outcome == "silent" for _, s in single_idle), single_idle[:2]
    assert all(s.outcome == "posted" for _, s in single_changed), single_changed[:2]
    print(
        f"one target's tick, idle:        median {statistics.median(idle_times) * 1000:6.0f} ms"
        f"  max {max(idle_times) * 1000:.0f} ms  (n={len(idle_times)}; goal ≤ 2000 ms)"
    )
    print(
        f"one target's tick, 1 change:    median {statistics.median(changed_times) * 1000:6.0f} ms"
        f"  max {max(changed_times) * 1000:.0f} ms  (n={len(changed_times)})"
    )

    # What one tick reads: the gather step alone, for a sample of targets.
    gather = ChangeActivities(
        HeartbeatDeps(runtime.settings, client, runtime.db, runtime.registry, sender, clock=clock)
    )
    config = defaults_from_settings(runtime.settings)
    examined = []
    for chat in chats[:50]:
        row = await store.get(HeartbeatTarget(chat_id=chat))
        assert row is not None
        result = await gather.gather_changes(
            GatherRequest(
                target=HeartbeatTarget(chat_id=chat), config=config, since=row.changes_checked_until
            )
        )
        examined.append(result.examined)
    print(
        f"jobs examined per tick:         mean {statistics.mean(examined):.1f} of "
        f"{args.jobs_per_chat} per chat (running + closed since the last check)"
    )

    if args.skip_bounded:
        return
    sent_before, llm_before = len(sender.messages), llm.requests
    started = time.perf_counter()
    results = await bounded(
        args.concurrency,
        [lambda c=c: tick(client, HeartbeatTarget(chat_id=c)) for c in chats],  # type: ignore[misc]
    )
    elapsed = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for _, summary in results:
        outcomes[summary.outcome] = outcomes.get(summary.outcome, 0) + 1
    per_tick = [t for t, _ in results]
    print(
        f"all {len(chats)} targets' ticks:        {elapsed:6.1f} s wall "
        f"({len(chats) / elapsed:.0f} ticks/s, {args.concurrency} at a time; "
        f"per tick median {statistics.median(per_tick) * 1000:.0f} ms)"
    )
    print(f"  outcomes: {outcomes}")
    print(
        f"  messages sent: {len(sender.messages) - sent_before} "
        f"(changes left after the single ticks: {len(changed_chats) - len(single_changed)})"
    )
    print(
        f"LLM calls, all ticks:           {llm.requests - llm_before + llm_before} (must be 0 idle)"
    )


class Load:
    """One load's figures: N workflows, each with the time it was due."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.due: dict[str, float] = {}
        self.handles: list[WorkflowHandle[Any, Any]] = []

    def line(self, figures: dict[str, float], base: dict[str, float] | None = None) -> str:
        def ratio(key: str) -> str:
            if base is None or not base.get(key):
                return ""
            return f" ({figures[key] / base[key]:.1f}× bare)"

        return (
            f"  {self.name:<34} {figures['rate']:6.1f} ticks/s{ratio('rate')} · lag p50 "
            f"{figures['p50']:.2f} s p99 {figures['p99']:.2f} s max {figures['max']:.2f} s"
            f"{ratio('p99')} · worst workflow task {figures['wft'] * 1000:.0f} ms"
            f"{ratio('wft')} (of {figures['tasks']:.0f} in {figures['sampled']:.0f} runs) · "
            f"CPU {figures['cpu_ms']:.1f} ms/tick{ratio('cpu_ms')}"
        )


async def run_load(
    client: Client,
    load: Load,
    starts: list[tuple[float, str, Callable[[], Awaitable[WorkflowHandle[Any, Any]]]]],
    steps: StepLog,
    server_pid: int,
    sample: int,
) -> dict[str, float]:
    """Start each workflow at its due time (wall clock; all at once when they share one), wait
    for all, then read the figures."""
    cpu0 = cpu_seconds() + cpu_seconds(server_pid)
    gate = asyncio.Semaphore(200)  # client-side starts in flight (what a scheduler does)

    async def one(due: float, workflow_id: str, start: Callable[[], Awaitable[Any]]) -> None:
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        load.due[workflow_id] = due
        async with gate:
            load.handles.append(await start())

    first_due = min(due for due, _, _ in starts)
    await asyncio.gather(*(one(*entry) for entry in starts))
    await bounded(200, [lambda h=h: h.result() for h in load.handles])  # type: ignore[misc]
    elapsed = max(time.time() - first_due, 1e-9)
    spread = max(due for due, _, _ in starts) - first_due
    cpu = cpu_seconds() + cpu_seconds(server_pid) - cpu0
    lags = [steps.first[w] - due for w, due in load.due.items() if w in steps.first]
    picked = random.Random(7).sample(sorted(load.due), min(sample, len(load.due)))
    times = await bounded(20, [lambda w=w: task_times(client, w) for w in picked])  # type: ignore[misc]
    durations = [d for ds, _ in times for d in ds]
    # A herd: all done / wall time. Spread: ticks arrive at their rate; say that rate.
    rate = len(load.due) / (elapsed if spread < 1 else spread)
    return {
        "rate": rate,
        "p50": pct(lags, 0.5),
        "p99": pct(lags, 0.99),
        "max": max(lags, default=float("nan")),
        "wft": max(durations, default=float("nan")),
        "tasks": len(durations),
        "sampled": len(picked),
        "cpu_ms": cpu / len(load.due) * 1000,
        "events": statistics.mean(n for _, n in times) if times else float("nan"),
        "steps": statistics.mean(steps.count.get(w, 0) for w in load.due),
        "wall": elapsed,
    }


def heartbeat_start(
    client: Client, chat: int, tag: str
) -> tuple[str, Callable[[], Awaitable[WorkflowHandle[Any, Any]]]]:
    target = HeartbeatTarget(chat_id=chat)
    workflow_id = f"{target.schedule_id}-{tag}-{uuid.uuid4().hex[:6]}"

    async def start() -> WorkflowHandle[Any, Any]:
        return await client.start_workflow(
            "HeartbeatWorkflow",
            target,
            id=workflow_id,
            task_queue=OPERATOR_QUEUE,
            result_type=HeartbeatRunSummary,
        )

    return workflow_id, start


def bare_start(
    client: Client, index: int, tag: str
) -> tuple[str, Callable[[], Awaitable[WorkflowHandle[Any, Any]]]]:
    workflow_id = f"bench-bare-{tag}-{index}-{uuid.uuid4().hex[:6]}"

    async def start() -> WorkflowHandle[Any, Any]:
        return await client.start_workflow(
            "BenchBaseline", "x", id=workflow_id, task_queue=BASELINE_QUEUE, result_type=str
        )

    return workflow_id, start


async def measure_load(
    args: argparse.Namespace,
    client: Client,
    chats: list[int],
    idle: list[int],
    steps: StepLog,
    server_pid: int,
) -> None:
    """Herd and spread, each beside the bare workflow under the same load; an idle chat's
    cost; memory."""
    sample = args.history_sample
    herd_n = min(len(chats), args.herd)
    print(f"load ({len(chats)} chats; lag = due time → the tick's first step):")

    def at_once(make: Callable[[int], tuple[str, Any]], n: int) -> list[tuple[float, str, Any]]:
        due = time.time() + 1.0
        return [(due, *make(i)) for i in range(n)]

    bare = await run_load(
        client,
        Load("bare workflow, herd"),
        at_once(lambda i: bare_start(client, i, "herd"), herd_n),
        steps,
        server_pid,
        sample,
    )
    print(Load(f"bare workflow, herd ({herd_n})").line(bare))
    herd = await run_load(
        client,
        Load(f"heartbeat, herd ({herd_n} due at once)"),
        at_once(lambda i: heartbeat_start(client, chats[i], "herd"), herd_n),
        steps,
        server_pid,
        sample,
    )
    print(Load(f"heartbeat, herd ({herd_n} due at once)").line(herd, bare))

    # Spread: each target at its own offset, at the real rate of len(chats) over the interval.
    every = timedelta(minutes=args.interval_minutes)
    rate = len(chats) / every.total_seconds()
    count = max(1, int(rate * args.spread_seconds))
    by_offset = sorted(
        chats, key=lambda c: spread_offset(HeartbeatTarget(chat_id=c).schedule_id, every)
    )
    t0 = time.time() + 1.0
    window = [(t0 + i / rate, c) for i, c in enumerate(by_offset[:count])]
    bare_spread = await run_load(
        client,
        Load("bare workflow, spread"),
        [(due, *bare_start(client, i, "spread")) for i, (due, _) in enumerate(window)],
        steps,
        server_pid,
        sample,
    )
    name = f"heartbeat, spread ({rate:.1f}/s for {args.spread_seconds} s)"
    t0 = time.time() + 1.0
    spread = await run_load(
        client,
        Load(name),
        [
            (t0 + i / rate, *heartbeat_start(client, c, "spread"))
            for i, c in enumerate(by_offset[:count])
        ],
        steps,
        server_pid,
        sample,
    )
    print(Load("bare workflow, spread").line(bare_spread))
    print(Load(name).line(spread, bare_spread))

    # An idle chat: nothing running, nothing unreported, a checklist without items.
    idle_n = min(len(idle), max(200, len(chats) // 10))
    cost = await run_load(
        client,
        Load("idle chats"),
        at_once(lambda i: heartbeat_start(client, idle[i], "idle"), idle_n),
        steps,
        server_pid,
        sample,
    )
    per_hour = 60 / args.interval_minutes
    print(
        f"idle chat: {cost['steps']:.1f} activity and {cost['events']:.0f} history events "
        "per tick; "
        f"CPU {cost['cpu_ms']:.1f} ms per tick (workers + server; bare workflow "
        f"{bare['cpu_ms']:.1f} ms, {cost['cpu_ms'] / bare['cpu_ms']:.1f}×) = "
        f"{cost['cpu_ms'] * per_hour / 1000:.3f} CPU s per chat per hour at "
        f"{args.interval_minutes} min (n={idle_n})"
    )
    print(
        f"memory: workers (this process) {rss_mb(os.getpid()):.0f} MB, "
        f"dev server {rss_mb(server_pid):.0f} MB"
    )
    goal = "met" if herd["wft"] <= 1 and spread["wft"] <= 1 and spread["max"] <= 60 else "NOT met"
    print(
        f"goals (every tick within 60 s of due, no workflow task over 1 s): {goal} "
        f"(spread lag max {spread['max']:.1f} s; worst task herd {herd['wft'] * 1000:.0f} ms, "
        f"spread {spread['wft'] * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--jobs-per-chat", type=int, default=10)
    parser.add_argument("--changed", type=float, default=0.01, help="share of jobs changed")
    parser.add_argument("--running", type=float, default=0.05, help="share of jobs running")
    parser.add_argument("--concurrency", type=int, default=50, help="ticks in flight at once")
    parser.add_argument(
        "--workflow-task-slots",
        type=int,
        default=WORKFLOW_TASK_SLOTS,
        help="workflow tasks a worker takes at a time (the SDK's default is 100)",
    )
    parser.add_argument(
        "--skip-bounded",
        action="store_true",
        help="leave out the pass of all targets `--concurrency` at a time (the herd covers it)",
    )
    parser.add_argument(
        "--herd", type=int, default=2000, help="targets due at one instant in the herd load"
    )
    parser.add_argument("--interval-minutes", type=int, default=15, help="the heartbeat cadence")
    parser.add_argument(
        "--spread-seconds", type=int, default=60, help="how long the spread load runs"
    )
    parser.add_argument(
        "--history-sample", type=int, default=500, help="histories read per load for task times"
    )
    asyncio.run(main(parser.parse_args()))
