"""How long "/running" takes to answer with thousands of running jobs in one chat.

    .venv/bin/python bench/status.py [--jobs 2000] [--repeats 10]

Starts its own dev server (same speed flags as `hbo up`) and the full in-process stack, then
starts N real JobWorkflows for one chat whose step waits on a task queue nobody polls — each is
a genuinely running job (JobStatus running, its worker waiting). Then asks "/running" (and "what
is running?") through the operator several times and prints the median and worst answer time,
plus the count shown, which must equal N.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client

from bench._server import temporal_dev_server
from bot.types import Incoming
from core.jobs import JobSpec, NotifyPolicy
from tests.support.botapi import BotApiEmulator
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, make_settings, running_stack

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.repeats))
