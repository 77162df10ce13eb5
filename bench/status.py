"""How long "/running" takes to answer with thousands of running jobs in one chat; with
`--stats`, how long "/stats" takes over thousands of finished ones.

    .venv/bin/python bench/status.py [--jobs 2000] [--repeats 10]
    .venv/bin/python bench/status.py --stats [--jobs 2000] [--repeats 5]

Starts its own dev server (same speed flags as `hbo up`) and the full in-process stack, then
starts N real JobWorkflows for one chat whose step waits on a task queue nobody polls — each is
a genuinely running job (JobStatus running, its worker waiting). Then asks "/running" (and "what
is running?") through the operator several times and prints the median and worst answer time,
plus the count shown, which must equal N.

`--stats` runs N real jobs for one chat to their end instead (90% complete, 5% are terminated —
failed — and 5% cancelled while waiting), records each final state in the report ledger as the
notify path does, then asks "/stats" several times: the time from the message to the photo at
the Bot API emulator (visibility over N jobs, the ledger, the chart drawn on the reporting
worker, sendPhoto), with the caption, whose count must equal N, and the picture's size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client

from activities.stats import final_state
from bench._server import temporal_dev_server
from bot.types import Incoming
from core.domain.jobs.models import JobSpec, NotifyPolicy
from core.domain.temporal_names import SA_JOB_STATUS
from tests.support.botapi import BotApiEmulator
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack, make_settings, running_stack

IDLE_QUEUE = "bench-idle"  # nobody polls it: the job's step waits there, the job keeps running
CHAT = 424_242


def idle_spec(template: JobSpec, n: int) -> JobSpec:
    step = template.steps[0].model_copy(update={"task_queue": IDLE_QUEUE})
    return template.model_copy(update={"job_id": f"job-bench{n:05d}", "steps": [step]})


async def wait_count(client: Client, query: str, want: int, timeout: float = 600) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if (await client.count_workflows(query)).count >= want:
            return time.perf_counter() - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{query} did not reach {want}")


async def main(jobs: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hbo-bench-status-") as tmp:
        data = Path(tmp)
        async with temporal_dev_server(data / "temporal.db") as (server, client):
            async with BotApiEmulator(token=TEST_TOKEN) as botapi:
                settings = make_settings(data, server.target, TELEGRAM_BASE_URL=botapi.base_url)
                async with running_stack(settings, client) as stack:
                    op = stack.operator
                    template = op.planner.plan(
                        goal="bench: a job that waits",
                        steps=[("execution", {"command": "true"})],
                        chat_id=CHAT,
                        report=False,
                        notify=NotifyPolicy.silent,
                    )
                    started = time.perf_counter()
                    for batch in range(0, jobs, 200):
                        await asyncio.gather(
                            *(
                                op.jobs.start(idle_spec(template, n))
                                for n in range(batch, min(jobs, batch + 200))
                            )
                        )
                    print(f"started {jobs} jobs in {time.perf_counter() - started:.1f}s")
                    query = f"ReportChatId = {CHAT} AND JobStatus = 'running'"
                    waited = await wait_count(client, query, jobs)
                    print(f"all {jobs} visible as running after a further {waited:.1f}s")

                    msg = Incoming(user_id=ALLOWED_USER, chat_id=CHAT, text="/running")
                    for label, text in (("/running", "/running"), ("router", "what is running?")):
                        times: list[float] = []
                        answer = ""
                        for _ in range(repeats):
                            t0 = time.perf_counter()
                            replies = await op.handle(msg.model_copy(update={"text": text}))
                            times.append((time.perf_counter() - t0) * 1000)
                            answer = replies[0].text
                        first_line = answer.splitlines()[0]
                        print(
                            f"{label:9s} median {statistics.median(times):6.0f} ms  "
                            f"worst {max(times):6.0f} ms  (n={repeats})  → {first_line}"
                        )
                        assert f"{jobs} jobs" in first_line, first_line


STATS_CHAT = 434_343
STATS_BATCH = 100


async def finished_jobs(stack: Stack, client: Client, jobs: int) -> None:
    """N jobs of STATS_CHAT run to their end, each final state recorded in the ledger."""
    op = stack.operator
    template = op.planner.plan(
        goal="bench: a job that ends",
        steps=[("execution", {"command": "true"})],
        chat_id=STATS_CHAT,
        report=False,
        notify=NotifyPolicy.silent,
    )
    specs = [
        template.model_copy(update={"job_id": f"job-stats{n:05d}"})
        if n % 20 >= 2
        else idle_spec(template, n).model_copy(update={"job_id": f"job-stats{n:05d}"})
        for n in range(jobs)
    ]
    scope = f"WorkflowType = 'JobWorkflow' AND ReportChatId = {STATS_CHAT}"
    started = time.perf_counter()
    # In batches, each run to its end before the next: thousands of commands at once on a
    # small machine miss their heartbeats and wait for a decision instead of ending.
    for batch in range(0, jobs, STATS_BATCH):
        chunk = list(enumerate(specs))[batch : batch + STATS_BATCH]
        await asyncio.gather(*(op.jobs.start(s) for _, s in chunk))
        for n, spec in chunk:
            if n % 20 == 0:
                await op.jobs.handle(spec.job_id).terminate("bench: a failed job")
            elif n % 20 == 1:
                await op.jobs.handle(spec.job_id).cancel()
        ended = batch + len(chunk)
        await wait_count(client, f"{scope} AND ExecutionStatus != 'Running'", ended, 600)
    print(f"{jobs} jobs ran to their end in {time.perf_counter() - started:.1f}s")
    ledger = stack.runtime.ledger
    async for wf in client.list_workflows(scope, page_size=1000):
        state = final_state(wf.status, wf.typed_search_attributes.get(SA_JOB_STATUS))
        assert state is not None and wf.close_time is not None
        told = wf.close_time + timedelta(milliseconds=50)
        await ledger.mark_reported(wf.id, STATS_CHAT, state, now=told)


async def main_stats(jobs: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hbo-bench-stats-") as tmp:
        data = Path(tmp)
        async with temporal_dev_server(data / "temporal.db") as (server, client):
            async with BotApiEmulator(token=TEST_TOKEN) as botapi:
                settings = make_settings(data, server.target, TELEGRAM_BASE_URL=botapi.base_url)
                async with running_stack(settings, client) as stack:
                    await finished_jobs(stack, client, jobs)
                    msg = Incoming(user_id=ALLOWED_USER, chat_id=STATS_CHAT, text="/stats")
                    times: list[float] = []
                    for _ in range(repeats):
                        sent = len(botapi.sent)
                        t0 = time.perf_counter()
                        await stack.operator.handle(msg)
                        # The command answers once its workflow has sent the photo.
                        photo = next(m for m in botapi.sent[sent:] if m.method == "sendPhoto")
                        times.append((time.perf_counter() - t0) * 1000)
                    print(
                        f"/stats    median {statistics.median(times):6.0f} ms  "
                        f"worst {max(times):6.0f} ms  (n={repeats}, {jobs} jobs)"
                    )
                    print(f"caption: {photo.caption}")
                    print(f"picture: {photo.document_size} bytes, PNG")
                    assert photo.caption and f": {jobs} jobs" in photo.caption, photo.caption


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--stats", action="store_true", help="measure /stats over finished jobs")
    args = parser.parse_args()
    if args.stats:
        asyncio.run(main_stats(args.jobs, args.repeats or 5))
    else:
        asyncio.run(main(args.jobs, args.repeats or 10))
