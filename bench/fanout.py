"""The recurring fan-out: N `/every` schedules in N private chats, all due at one instant.

    .venv/bin/python bench/fanout.py [--fanout 1000] [--processes 1 2]

Set-up (own dev server, in memory, the `hbo up` flags; the Bot API emulator from
`tests/support`): each chat's schedule is created by the bot's own `/every` handler
(`Operator.handle` with `/every cron "M H * * *" echo fanout-<chat>`, from an allowed person in
their private chat) — a cron schedule, so it stays clock-aligned (decision 052 spreads only
interval schedules), all N due at the same minute. The roles run as processes of their own, as
deployed: `hbo worker --queue execution` (its isolated child runs the commands) and `K` ×
`hbo worker --queue operator --queue reporting` (job workflows, the ledger, and the notify queue
whose bot-wide send rate the Temporal server enforces across processes).

Measured, per run: each chat's result message at the emulator — delivered, and exactly once —
and the time from the due instant to the last result, beside the physical floor (N results at
the configured bot-wide rate) and beside a bare baseline measured first in the same run: N
workflows due at one instant that do nothing but `notify.send` one message each (the delivery
path alone, same rate limit). `--processes 1 2` runs the fan-out once with one operator worker
process and once with two (new chats each time) and prints the ratio.

Bounded: each phase gives up after `--timeout` seconds past its due instant and says what is
missing. Every schedule is deleted at the end of its phase.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio import workflow
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from bench._server import temporal_dev_server
from bot.types import Incoming
from core.domain.messages import ChatMessage
from core.domain.temporal_names import EXECUTION_QUEUE, NOTIFY_QUEUE, OPERATOR_QUEUE
from core.io.settings import Settings
from hbo.runtime import Runtime, open_runtime
from tests.support.botapi import BotApiEmulator
from tests.support.roles import kill_role, role_env, spawn_role
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, make_settings

BARE_QUEUE = "bench-fanout-bare"
FIRST_CHAT = 7_000_000


@workflow.defn(name="BenchBareSend", sandboxed=False)
class BareSend:
    """The delivery path alone: one `notify.send`, on the notify queue the workers poll."""

    @workflow.run
    async def run(self, message: ChatMessage) -> None:
        await workflow.execute_activity(
            "notify.send",
            message,
            task_queue=NOTIFY_QUEUE,
            start_to_close_timeout=timedelta(minutes=5),
        )


@dataclass
class Outcome:
    """One phase's figures: the chats, the due instant (wall clock) and what reached them."""

    name: str
    chats: list[int]
    due: float
    delivered: int = 0
    repeated: int = 0
    last: float = float("nan")  # seconds from due to the last result
    first: float = float("nan")
    created_in: float = float("nan")
    sends: int = 0  # every message the chats got (a recurring run's card and its result)

    @property
    def complete(self) -> bool:
        return self.delivered == len(self.chats) and self.repeated == 0


def marker(chat: int) -> str:
    return f"fanout-{chat}"


def result_text(chat: int) -> str:
    """What a result shows: the command's output (`echo fanout-<chat>`) as the job's result
    message sets it; a run's card names the command, never this."""
    return f"<pre>{marker(chat)}</pre>"


def results(botapi: BotApiEmulator, chats: list[int]) -> dict[int, list[float]]:
    """Per chat, the monotonic times of the messages (sent, or edited into) showing its result."""
    wanted = set(chats)
    seen: dict[int, list[float]] = {chat: [] for chat in chats}
    for message in [*botapi.sent, *botapi.edits]:
        if (
            message.chat_id in wanted
            and message.text
            and result_text(message.chat_id) in (message.text)
        ):
            seen[message.chat_id].append(message.at)
    return seen


async def wait_results(
    botapi: BotApiEmulator, outcome: Outcome, timeout: float, settle: float = 3.0
) -> None:
    """Until every chat has its result (then `settle` s more, to see a repeat if one comes) or
    `timeout` s past the due instant; fills in `outcome`."""
    wall_minus_mono = time.time() - time.monotonic()
    deadline = outcome.due + timeout
    all_in: float | None = None
    while time.time() < deadline:
        seen = results(botapi, outcome.chats)
        if all(seen.values()):
            all_in = all_in or time.time()
            if time.time() - all_in >= settle:
                break
        await asyncio.sleep(0.25)
    seen = results(botapi, outcome.chats)
    times = [min(ts) + wall_minus_mono - outcome.due for ts in seen.values() if ts]
    outcome.delivered = sum(1 for ts in seen.values() if ts)
    outcome.repeated = sum(len(ts) - 1 for ts in seen.values() if len(ts) > 1)
    wanted = set(outcome.chats)
    outcome.sends = sum(1 for m in botapi.sent if m.chat_id in wanted) + sum(
        1 for m in botapi.edits if m.chat_id in wanted
    )
    if times:
        outcome.first, outcome.last = min(times), max(times)


async def bounded(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def next_minute(after: float) -> float:
    return math.ceil(after / 60) * 60


async def create_every(runtime: Runtime, chats: list[int], due: float) -> list[str]:
    """Each chat's person sends `/every cron "M H * * *" echo fanout-<chat>` to the bot's own
    handler; returns the schedule ids its answers name."""
    at = datetime.fromtimestamp(due, UTC)
    operator = runtime.operator()

    async def one(chat: int) -> str:
        replies = await operator.handle(
            Incoming(
                user_id=chat,
                chat_id=chat,
                text=f'/every cron "{at.minute} {at.hour} * * *" echo {marker(chat)}',
            )
        )
        text = "\n".join(r.text for r in replies)
        if "<b>jobsched-" not in text:
            raise RuntimeError(f"chat {chat}: /every answered {text!r}")
        return text.split("<b>", 1)[1].split("</b>", 1)[0]

    return await bounded(16, [lambda c=c: one(c) for c in chats])  # type: ignore[misc]


async def delete_schedules(client: Client, ids: list[str]) -> None:
    async def one(schedule_id: str) -> None:
        await client.get_schedule_handle(schedule_id).delete()

    await bounded(16, [lambda s=s: one(s) for s in ids])  # type: ignore[misc]


def _pids_polling(pollers: Any) -> set[int]:
    """The process ids among a task queue's pollers (an SDK worker's identity is `pid@host`)."""
    pids = set()
    for poller in pollers:
        head = poller.identity.split("@", 1)[0]
        if head.isdigit():
            pids.add(int(head))
    return pids


async def wait_polling(
    client: Client, queue: str, kind: TaskQueueType.ValueType, pids: set[int] | None
) -> None:
    """Until `queue` is polled by each of `pids` (None: by anyone), or fail after 120 s."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
            )
        )
        polling = _pids_polling(answer.pollers)
        if (pids is None and answer.pollers) or (pids is not None and pids <= polling):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no worker polls {queue} (wanted {pids})")


@asynccontextmanager
async def operator_processes(
    client: Client, settings: Settings, count: int, logs: Path, tag: str
) -> AsyncIterator[None]:
    """`count` × `hbo worker --queue operator --queue reporting`, each its own process (the
    workers' own allowed list is the default person only: their start-up provisions no
    heartbeat for the bench's chats)."""
    env = role_env(
        settings,
        TELEGRAM_ALLOWED_USER_IDS=str(ALLOWED_USER),
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        LOG_LEVEL="WARNING",
    )
    procs = [
        spawn_role(
            ["worker", "--queue", "operator", "--queue", "reporting"],
            env,
            logs / f"operator-{tag}-{i}.log",
        )
        for i in range(count)
    ]
    try:
        pids = {proc.pid for proc in procs}
        await wait_polling(client, OPERATOR_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, pids)
        await wait_polling(client, NOTIFY_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, pids)
        yield
    finally:
        for proc in procs:
            kill_role(proc, 15)


async def bare_phase(
    client: Client, botapi: BotApiEmulator, chats: list[int], lead: float, timeout: float
) -> Outcome:
    """N bare workflows started at one instant, each sending one message."""
    due = time.time() + lead
    outcome = Outcome("bare: notify.send only", chats, due)
    await asyncio.sleep(max(0.0, due - time.time()))

    async def start(chat: int) -> None:
        await client.start_workflow(
            "BenchBareSend",
            ChatMessage(chat_id=chat, text=result_text(chat)),
            id=f"bench-bare-{chat}",
            task_queue=BARE_QUEUE,
        )

    await bounded(200, [lambda c=c: start(c) for c in chats])  # type: ignore[misc]
    await wait_results(botapi, outcome, timeout)
    return outcome


async def fanout_phase(
    runtime: Runtime,
    botapi: BotApiEmulator,
    chats: list[int],
    name: str,
    timeout: float,
    create_seconds: float,
) -> Outcome:
    """N `/every` cron schedules due at the first whole minute after their creation's budget
    (`create_seconds` each, plus a margin); fails loudly if creation ran past it."""
    started = time.time()
    due = next_minute(started + 5 + create_seconds * len(chats))
    outcome = Outcome(name, chats, due)
    ids = await create_every(runtime, chats, due)
    outcome.created_in = time.time() - started
    try:
        if time.time() > due - 1:
            raise RuntimeError(
                f"creating {len(chats)} schedules took {outcome.created_in:.0f} s, past the "
                "due minute; nothing fired as planned"
            )
        print(
            f"  {name}: {len(ids)} schedules created in {outcome.created_in:.1f} s; due "
            f"{datetime.fromtimestamp(due, UTC):%H:%M:%S} UTC (in {due - time.time():.0f} s)",
            flush=True,
        )
        await wait_results(botapi, outcome, timeout)
        if not outcome.complete:
            await explain_missing(
                runtime.client, botapi, outcome, dict(zip(chats, ids, strict=True))
            )
    finally:
        await delete_schedules(runtime.client, ids)
    return outcome


async def explain_missing(
    client: Client, botapi: BotApiEmulator, outcome: Outcome, schedules: dict[int, str]
) -> None:
    """For a few chats without their result: what the schedule started and where the run is."""
    seen = results(botapi, outcome.chats)
    missing = [chat for chat, times in seen.items() if not times]
    print(f"  missing results in {len(missing)} chats; the first few:", flush=True)
    for chat in missing[:3]:
        desc = await client.get_schedule_handle(schedules[chat]).describe()
        runs = [getattr(a.action, "workflow_id", "?") for a in desc.info.recent_actions]
        print(f"    chat {chat}: {schedules[chat]} started {runs or 'nothing'}", flush=True)
        for workflow_id in runs[-1:]:
            info = await client.get_workflow_handle(workflow_id).describe()
            pending = [
                (p.activity_type.name, p.attempt, p.last_failure.message)
                for p in info.raw_description.pending_activities
            ]
            print(f"      {workflow_id}: {info.status}, pending {pending}", flush=True)


def line(outcome: Outcome, rate: int, base: Outcome | None = None) -> str:
    """One phase's figures: delivered/once, due → last result, and the floors — the results
    alone at the configured bot-wide rate, and every message the chats got (cards too)."""
    n = len(outcome.chats)
    floor = n / rate
    beside = ""
    if base is not None and base.last == base.last and base.last > 0:
        beside = f"; {outcome.last / base.last:.2f}× bare"
    return (
        f"{outcome.name:<30} delivered {outcome.delivered}/{n}, repeats {outcome.repeated} "
        f"({'each exactly once' if outcome.complete else 'NOT each exactly once'}) · due → "
        f"first {outcome.first:.1f} s, last {outcome.last:.1f} s · floor {floor:.1f} s "
        f"({n} results at {rate}/s): {outcome.last / floor:.2f}× floor{beside} · "
        f"{outcome.sends} messages ({outcome.sends / n:.1f} per chat; at {rate}/s "
        f"{outcome.sends / rate:.1f} s)"
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(args: argparse.Namespace) -> list[Outcome]:
    n = args.fanout
    data = Path(tempfile.mkdtemp(prefix="hbo-bench-fanout-"))
    logs = data / "logs"
    logs.mkdir()
    outcomes: list[Outcome] = []
    try:
        async with (
            temporal_dev_server(log_file=logs / "temporal.log") as (server, client),
            BotApiEmulator(token=TEST_TOKEN) as botapi,
        ):
            phases = 1 + len(args.processes)
            every_chat = [FIRST_CHAT + i for i in range(n * phases)]
            for chat in every_chat:
                botapi.add_chat(chat)
            settings = make_settings(
                data,
                server.target,
                TELEGRAM_BASE_URL=botapi.base_url,
                TELEGRAM_ALLOWED_USER_IDS=",".join(str(c) for c in every_chat),
                SCHEDULE_MIN_INTERVAL_SECONDS=60,
            )
            rate = settings.telegram_max_messages_per_second
            async with open_runtime(settings, client) as runtime:  # migrates the database
                execution = spawn_role(
                    ["worker", "--queue", "execution"],
                    role_env(settings, LOG_LEVEL="WARNING"),
                    logs / "execution.log",
                )
                bare_worker = Worker(client, task_queue=BARE_QUEUE, workflows=[BareSend])
                bare_task = asyncio.create_task(bare_worker.run())
                await wait_polling(
                    client, EXECUTION_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, None
                )
                try:
                    for index, count in enumerate(args.processes):
                        chats = every_chat[n * (index + 1) : n * (index + 2)]
                        async with operator_processes(client, settings, count, logs, str(index)):
                            if index == 0 and not args.no_bare:
                                bare = await bare_phase(
                                    client, botapi, every_chat[:n], 1.0, args.timeout
                                )
                                outcomes.append(bare)
                                print(line(bare, rate), flush=True)
                            name = f"fan-out, {count} operator process{'es' * (count > 1)}"
                            outcome = await fanout_phase(
                                runtime, botapi, chats, name, args.timeout, args.create_seconds
                            )
                            base = outcomes[0] if not args.no_bare else None
                            outcomes.append(outcome)
                            print(line(outcome, rate, base), flush=True)
                            print(f"  load average: {load_average()}", flush=True)
                finally:
                    await bare_worker.shutdown()
                    await asyncio.gather(bare_task, return_exceptions=True)
                    kill_role(execution, 15)
            fans = [o for o in outcomes if o.name.startswith("fan-out")]
            if len(fans) == 2 and all(f.last == f.last for f in fans):
                print(
                    f"{fans[1].name} vs {fans[0].name}: last result {fans[1].last:.1f} s vs "
                    f"{fans[0].last:.1f} s ({fans[1].last / fans[0].last:.2f}×)"
                )
            print(f"Telegram's own floor: {n} results / 30 per s = {n / 30:.1f} s")
    except BaseException:
        for log in sorted(logs.glob("*.log")):
            tail = log.read_text(errors="replace")[-1500:]
            if tail.strip():
                print(f"--- {log.name}\n{tail}", file=sys.stderr)
        raise
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    return outcomes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fanout", type=int, default=1000, help="schedules (and chats)")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1],
        help="operator worker processes, one fan-out per value (e.g. 1 2)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds past the due instant to give up"
    )
    parser.add_argument(
        "--create-seconds",
        type=float,
        default=0.4,
        help="creation time budgeted per schedule when picking the due minute (a loaded "
        "2-core machine creates about 3 a second through /every)",
    )
    parser.add_argument(
        "--no-bare", action="store_true", help="leave out the bare notify.send baseline"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    return parser.parse_args(argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    done = asyncio.run(run(parse_args()))
    sys.exit(0 if all(o.complete for o in done) else 1)
