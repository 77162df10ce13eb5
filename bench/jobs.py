"""Jobs through the full path vs a bare one-activity workflow, on the same dev server, same run.

    .venv/bin/python bench/jobs.py [--jobs 200] [--latency-samples 50] [--llm down|hang]

Full path = `/exec true` injected at the Bot API emulator → bot → JobWorkflow → execution →
reporting → notify → sendMessage at the emulator. Throughput runs start jobs through the
operator (no bot) so both sides measure the engine + workers; latency samples go through the
bot, one job at a time. Prints jobs/s for both, their ratio, and p50/p99 latency. With
`--llm down|hang`, the same latency again with an LLM configured whose endpoint is down or hangs,
and its ratio to the no-LLM figure.
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
from temporalio.worker import Worker

from bench._baseline import BASELINE_QUEUE, BaselineWorkflow, noop
from bench._server import temporal_dev_server
from core.devserver import DevServer
from tests.support.botapi import BotApiEmulator
from tests.support.llm_server import Mode, ScriptedLLM
from tests.support.namespaces import new_namespace
from tests.support.stack import (
    TEST_TOKEN,
    make_settings,
    running_stack,
)

LATENCY_USERS = 700_000


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def baseline_rate(client: Client, n: int) -> float:
    async with Worker(
        client, task_queue=BASELINE_QUEUE, workflows=[BaselineWorkflow], activities=[noop]
    ):
        await client.execute_workflow(
            BaselineWorkflow.run, "warm", id="bench-warm", task_queue=BASELINE_QUEUE
        )
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    BaselineWorkflow.run,
                    str(i),
                    id=f"bench-{i}-{time.time_ns()}",
                    task_queue=BASELINE_QUEUE,
                )
                for i in range(n)
            )
        )
        await asyncio.gather(*(h.result() for h in handles))
        return n / (time.perf_counter() - started)


async def exec_latency_with_llm(
    server: DevServer, admin: Client, data: Path, mode: Mode, samples: int
) -> tuple[list[float], list[float], list[float]]:
    """`/exec` latency (ms) with an LLM configured whose endpoint is `mode` (down: connection
    refused; hang: accepts, never answers) against the same without an LLM: two stacks side by
    side (own namespaces, own emulators), samples taken in turn so load drifts hit both alike.
    The first jobs with the LLM pay the job timeout until the breaker opens.
    Returns (those first jobs, no-LLM samples, LLM samples)."""
    failures = 3
    # Chats of their own per side and sample: Telegram pacing is per chat and process-wide.
    plain_users, llm_users = LATENCY_USERS + 10_000, LATENCY_USERS + 20_000
    n = failures + samples
    users = ",".join(str(base + i) for base in (plain_users, llm_users) for i in range(n))

    async def send(botapi: BotApiEmulator, i: int, tag: str) -> float:
        marker = f"{tag}-{i}-{time.time_ns()}"
        user = (plain_users if botapi is plain_api else llm_users) + i
        t0 = time.perf_counter()
        botapi.inject_message(f"/exec echo {marker}", user_id=user)
        await botapi.wait_for(
            lambda m: marker in m.plain_text and "completed" in m.plain_text, timeout=60
        )
        return (time.perf_counter() - t0) * 1000

    async with (
        ScriptedLLM(mode=mode) as llm,
        BotApiEmulator(token=TEST_TOKEN) as plain_api,
        BotApiEmulator(token=TEST_TOKEN) as llm_api,
    ):
        plain_client = await new_namespace(server.target, admin, "bench-plain")
        llm_client = await new_namespace(server.target, admin, f"bench-llm-{mode}")
        common = {"TELEGRAM_ALLOWED_USER_IDS": users, "LLM_JOB_TIMEOUT_SECONDS": 2}
        plain_settings = make_settings(
            data / "plain",
            server.target,
            TELEGRAM_BASE_URL=plain_api.base_url,
            TEMPORAL_NAMESPACE=plain_client.namespace,
            **common,
        )
        llm_settings = make_settings(
            data / f"llm-{mode}",
            server.target,
            TELEGRAM_BASE_URL=llm_api.base_url,
            TEMPORAL_NAMESPACE=llm_client.namespace,
            OPENAI_API_KEY="sk-bench-not-real",
            OPENAI_BASE_URL=llm.base_url,
            LLM_BREAKER_FAILURES=failures,
            **common,
        )
        async with (
            running_stack(plain_settings, plain_client),
            running_stack(llm_settings, llm_client),
        ):
            warmup = [await send(llm_api, i, "warm") for i in range(failures)]
            for i in range(failures):  # both sides equally warm
                await send(plain_api, i, "warm")
            plain: list[float] = []
            with_llm: list[float] = []
            for i in range(failures, n):
                first, second = (plain, with_llm) if i % 2 == 0 else (with_llm, plain)
                for target in (first, second):
                    api, tag = (plain_api, "plain") if target is plain else (llm_api, mode)
                    target.append(await send(api, i, tag))
    return warmup, plain, with_llm


async def main(jobs: int, samples: int, llm: Mode | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="hbo-bench-") as tmp:
        data = Path(tmp)
        async with temporal_dev_server(data / "temporal.db") as (server, client):
            async with BotApiEmulator(token=TEST_TOKEN) as botapi:
                settings = make_settings(
                    data,
                    server.target,
                    TELEGRAM_BASE_URL=botapi.base_url,
                    TELEGRAM_ALLOWED_USER_IDS=",".join(
                        str(LATENCY_USERS + i) for i in range(samples)
                    ),
                )
                async with running_stack(settings, client) as stack:
                    base = await baseline_rate(client, jobs)

                    # Throughput: N one-step jobs at once, done when every result message arrived.
                    # One chat per job: a single chat is paced at ~1 message/s by design.
                    chats = range(900_000, 900_000 + jobs)
                    specs = [stack.operator.planner.exec_job("true", chat_id=c) for c in chats]
                    ids = {s.job_id for s in specs}
                    started = time.perf_counter()
                    await asyncio.gather(*(stack.operator.start_job(s, "bench") for s in specs))
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline:
                        done = {
                            m.plain_text.split()[1]
                            for m in botapi.sent
                            if m.chat_id in chats and "completed" in m.plain_text
                        }
                        if ids <= done:
                            break
                        await asyncio.sleep(0.02)
                    rate = jobs / (time.perf_counter() - started)

                    # Latency: one job at a time, from the injected /exec to the result message.
                    # Each sample from its own (idle) chat, as a person would send a request;
                    # back-to-back jobs in one chat would measure Telegram's per-chat pacing.
                    latencies: list[float] = []
                    for i in range(samples):
                        marker = f"lat-{i}-{time.time_ns()}"
                        t0 = time.perf_counter()
                        botapi.inject_message(f"/exec echo {marker}", user_id=LATENCY_USERS + i)
                        await botapi.wait_for(
                            lambda m, k=marker: k in m.plain_text and "completed" in m.plain_text,
                            timeout=30,
                        )
                        latencies.append((time.perf_counter() - t0) * 1000)
                if llm is not None:
                    warmup, plain, with_llm = await exec_latency_with_llm(
                        server, client, data, llm, samples
                    )

    print(f"baseline (1-activity workflow): {base:7.1f} workflows/s  (n={jobs})")
    print(f"full job (exec+report+notify):  {rate:7.1f} jobs/s       (n={jobs})")
    print(f"ratio job/baseline:             {rate / base:7.2f}   (goal >= 0.5)")
    print(
        f"request-to-result latency:      p50 {statistics.median(latencies):6.0f} ms  "
        f"p99 {percentile(latencies, 99):6.0f} ms  "
        f"min {min(latencies):.0f} max {max(latencies):.0f}"
        f"  (n={samples}; goal p50 <= 250, p99 <= 1000)"
    )
    if llm is not None:
        base_p50, llm_p50 = statistics.median(plain), statistics.median(with_llm)
        print(
            f"/exec, LLM {llm} vs no LLM, in turn: p50 {llm_p50:.0f} ms vs {base_p50:.0f} ms, "
            f"p99 {percentile(with_llm, 99):.0f} vs {percentile(plain, 99):.0f} ms: "
            f"ratio {llm_p50 / base_p50:.2f}  (n={samples} each; goal <= 1.20)"
        )
        print(f"  min {min(with_llm):.0f} vs {min(plain):.0f} ms")
        print(
            f"  first {len(warmup)} jobs with the LLM {llm}, until the breaker opened: "
            + ", ".join(f"{ms:.0f}" for ms in warmup)
            + " ms (LLM_JOB_TIMEOUT_SECONDS=2)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument(
        "--llm",
        choices=["down", "hang"],
        default=None,
        help="also measure /exec with an LLM endpoint that is down or hangs (default: none)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.latency_samples, args.llm))
