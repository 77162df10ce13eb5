"""Jobs through the full path vs a bare one-activity workflow, on the same dev server, same run.

    .venv/bin/python bench/jobs.py [--jobs 200] [--latency-samples 50]
                                   [--conversation 20] [--burst 10]
                                   [--llm slow|down|hang] [--llm-delay 1.5]
                                   [--metrics]

Full path = `/exec …` injected at the Bot API emulator → bot → JobWorkflow → execution →
reporting → notify → the result shown at the emulator (a message, or the job's card edited
into it). Measured, each beside the bare workflow's figure from the same run:

- throughput: N jobs started at once across N chats (through the operator, no bot);
- idle chats: one request at a time, each from its own quiet chat;
- conversation: one chat, N requests one after another, each sent when the previous result
  arrived (what a person does);
- burst: N requests typed at once in one chat: complete, each once, and in which order;
- history events per plain `/exec` job;
- with `--llm slow|down|hang`: conversation request → output latency with a model configured
  that answers after `--llm-delay` seconds (slow), is down or hangs, beside the same without a
  model, samples taken in turn; the first requests after start on their own; with a slow model,
  how long after the output its summary is edited in.
- with `--metrics`: conversation latency and throughput with metrics on (the SDK's Prometheus
  exporter, `/metrics` scraped every second) beside off, two stacks side by side, in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from bench._baseline import BASELINE_QUEUE, BaselineWorkflow, noop
from bench._server import temporal_dev_server
from core.io.devserver import DevServer
from core.io.health import Readiness
from core.io.metrics import sdk_runtime
from core.io.ops_server import OpsServer
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.jobs import start_without_card
from tests.support.llm_server import Mode, ScriptedLLM, text
from tests.support.namespaces import new_namespace
from tests.support.stack import TEST_TOKEN, free_port, make_settings, running_stack

LATENCY_USERS = 700_000
CONVERSATION_USER = 650_001
BURST_USER = 650_002


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def figures(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):6.0f} ms  p99 {percentile(values, 99):6.0f} ms  "
        f"max {max(values):6.0f} ms  (n={len(values)})"
    )


def is_result(marker: str) -> object:
    def check(m: SentMessage) -> bool:
        text = m.plain_text or ""
        return marker in text and "completed" in text and "plan:" not in text

    return check


async def baseline(client: Client, n: int, samples: int) -> tuple[float, list[float]]:
    """Bare one-activity workflows: throughput of n at once, then start→result latency."""
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
        rate = n / (time.perf_counter() - started)
        latencies = []
        for i in range(samples):
            t0 = time.perf_counter()
            await client.execute_workflow(
                BaselineWorkflow.run,
                str(i),
                id=f"bench-lat-{i}-{time.time_ns()}",
                task_queue=BASELINE_QUEUE,
            )
            latencies.append((time.perf_counter() - t0) * 1000)
        return rate, latencies


async def one_request(botapi: BotApiEmulator, user: int, marker: str) -> float:
    t0 = time.perf_counter()
    botapi.inject_message(f"/exec echo {marker}", user_id=user, chat_id=user)
    await botapi.wait_for_shown(is_result(marker), timeout=60)  # type: ignore[arg-type]
    return (time.perf_counter() - t0) * 1000


async def burst(botapi: BotApiEmulator, size: int) -> tuple[list[float], int, int, bool]:
    """(latencies, results, out-of-request-order results, every result once)."""
    tag = f"burst{time.time_ns() % 10**8}"
    markers = [f"{tag}-{i}" for i in range(size)]
    t0 = time.monotonic()  # the emulator stamps what it records with this clock
    for marker in markers:
        botapi.inject_message(f"/exec echo {marker}", user_id=BURST_USER, chat_id=BURST_USER)
    arrived: dict[str, float] = {}
    while len(arrived) < size and time.monotonic() - t0 < 120:
        for m in botapi.shown(BURST_USER):
            for marker in markers:
                if marker not in arrived and is_result(marker)(m):  # type: ignore[operator]
                    arrived[marker] = m.at
        await asyncio.sleep(0.01)
    latencies = [(at - t0) * 1000 for at in arrived.values()]
    order = [markers.index(k) for k, _ in sorted(arrived.items(), key=lambda kv: kv[1])]
    inversions = sum(1 for a, b in itertools.pairwise(order) if b < a)
    each_once = all(
        len({m.message_id for m in botapi.shown(BURST_USER) if is_result(k)(m)}) == 1  # type: ignore[operator]
        for k in markers
    )
    return latencies, len(arrived), inversions, each_once


async def history_events(client: Client, job_id: str) -> int:
    return len([e async for e in client.get_workflow_handle(job_id).fetch_history_events()])


BENCH_SUMMARY = "BENCH-SUMMARY: the command printed its lines."


def long_output_command(marker: str) -> str:
    """An `/exec` whose output (12 lines) is long enough for a summary to be asked for."""
    return "/exec printf '%s\\n' " + marker + " " + " ".join(f"line{i}" for i in range(11))


@dataclass
class LlmFigures:
    first: list[float]  # the first requests after start, with the model configured (ms)
    plain: list[float]  # request → output, no model (ms)
    with_llm: list[float]  # request → output, the model configured (ms)
    summary_after: list[float]  # output → summary edited in (ms), a working model only


async def exec_latency_with_llm(
    server: DevServer, admin: Client, data: Path, mode: str, samples: int, delay: float
) -> LlmFigures:
    """Conversation latency (one chat per side, each request sent when the previous output
    arrived) with a model configured that is `mode` — slow: answers every call after `delay`
    seconds; down: connection refused; hang: accepts, never answers — against the same without
    a model: two stacks side by side (own namespaces, own emulators), samples taken in turn so
    load drifts hit both alike. Every output is long enough for a summary to be asked for;
    with a slow model, how long after the output the summary was edited in."""
    failures = 3
    plain_user, llm_user = LATENCY_USERS + 10_000, LATENCY_USERS + 20_000
    users = f"{plain_user},{llm_user}"
    summary_after: list[float] = []

    async def send(botapi: BotApiEmulator, i: int, tag: str) -> float:
        marker = f"{tag}-{i}-{time.time_ns()}"
        user = plain_user if botapi is plain_api else llm_user
        t0 = time.perf_counter()
        botapi.inject_message(long_output_command(marker), user_id=user)
        shown = await botapi.wait_for_shown(is_result(marker), timeout=60)  # type: ignore[arg-type]
        took = (time.perf_counter() - t0) * 1000
        if mode == "slow" and botapi is llm_api:
            edited = await botapi.wait_for_edit(
                lambda m: (
                    m.message_id == shown.message_id
                    and m.chat_id == user
                    and "BENCH-SUMMARY" in (m.plain_text or "")
                ),
                timeout=60,
            )
            summary_after.append((edited.at - shown.at) * 1000)
        return took

    script = [text(BENCH_SUMMARY)] if mode == "slow" else []
    llm_mode: Mode = "script" if mode == "slow" else mode  # type: ignore[assignment]
    async with (
        ScriptedLLM(script, repeat_last=True, mode=llm_mode, delay=delay) as llm,
        BotApiEmulator(token=TEST_TOKEN) as plain_api,
        BotApiEmulator(token=TEST_TOKEN) as llm_api,
    ):
        plain_client = await new_namespace(server.target, admin, "bench-plain")
        llm_client = await new_namespace(server.target, admin, f"bench-llm-{mode}")
        # The product's own model timeout: a hanging model must cost the person nothing.
        common = {"TELEGRAM_ALLOWED_USER_IDS": users}
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
            try:
                # Each stack's first job pays for cold caches and connections; a short output
                # asks the model nothing, so the model's breaker has still seen no call.
                for api, user in ((plain_api, plain_user), (llm_api, llm_user)):
                    warm = f"cold-{time.time_ns()}"
                    api.inject_message(f"/exec echo {warm}", user_id=user)
                    await api.wait_for_shown(is_result(warm), timeout=60)  # type: ignore[arg-type]
                # The first requests that ask the model after start.
                first = [await send(llm_api, i, "first") for i in range(failures)]
                for i in range(failures):  # both sides equally warm
                    await send(plain_api, i, "warm")
                plain: list[float] = []
                with_llm: list[float] = []
                for i in range(failures, failures + samples):
                    order = (plain, with_llm) if i % 2 == 0 else (with_llm, plain)
                    for target in order:
                        api, tag = (plain_api, "plain") if target is plain else (llm_api, mode)
                        target.append(await send(api, i, tag))
            finally:
                llm.release()  # hanging calls end, so the workers stop at once
    return LlmFigures(first, plain, with_llm, summary_after)


async def metrics_on_vs_off(
    server: DevServer, admin: Client, data: Path, samples: int, jobs: int
) -> dict[str, tuple[list[float], list[float]]]:
    """{"off"|"on": (conversation latencies in ms, throughput rounds in jobs/s)}: two stacks
    side by side (own namespaces, emulators and chats), one whose SDK runtime exports metrics
    and whose `/metrics` is scraped every second; samples and rounds taken in turn. The app's
    own counters (prometheus-client) are process-wide, so both sides count them."""
    talk_user = {"off": LATENCY_USERS + 30_000, "on": LATENCY_USERS + 30_001}
    users = ",".join(str(u) for u in talk_user.values())
    results: dict[str, tuple[list[float], list[float]]] = {"off": ([], []), "on": ([], [])}
    async with (
        BotApiEmulator(token=TEST_TOKEN) as off_api,
        BotApiEmulator(token=TEST_TOKEN) as on_api,
    ):
        off_client = await new_namespace(server.target, admin, "bench-metrics-off")
        on_namespace = (await new_namespace(server.target, admin, "bench-metrics-on")).namespace
        sdk_port = free_port()
        on_client = await Client.connect(
            server.target,
            namespace=on_namespace,
            data_converter=admin.data_converter,
            runtime=sdk_runtime(sdk_port, process="bench"),
        )
        sides = {"off": (off_api, off_client), "on": (on_api, on_client)}
        settings = {
            side: make_settings(
                data / f"metrics-{side}",
                server.target,
                TELEGRAM_BASE_URL=api.base_url,
                TEMPORAL_NAMESPACE=client.namespace,
                TELEGRAM_ALLOWED_USER_IDS=users,
            )
            for side, (api, client) in sides.items()
        }
        async with (
            running_stack(settings["off"], off_client) as off_stack,
            running_stack(settings["on"], on_client) as on_stack,
        ):
            stacks = {"off": off_stack, "on": on_stack}
            ops = OpsServer("127.0.0.1", 0, Readiness(), [sdk_port])
            await ops.start()

            async def scraper() -> None:
                async with httpx.AsyncClient() as http:
                    while True:
                        await http.get(ops.url)
                        await asyncio.sleep(1.0)

            scraping = asyncio.create_task(scraper())
            try:
                for side in ("off", "on"):  # warm both
                    await one_request(sides[side][0], talk_user[side], f"warm-{side}")
                for i in range(samples):
                    order = ("off", "on") if i % 2 == 0 else ("on", "off")
                    for side in order:
                        marker = f"m{side}-{i}-{time.time_ns()}"
                        results[side][0].append(
                            await one_request(sides[side][0], talk_user[side], marker)
                        )
                for round_ in range(4):
                    side = ("off", "on", "on", "off")[round_]
                    api, stack = sides[side][0], stacks[side]
                    base = 800_000 + round_ * jobs
                    chats = range(base, base + jobs)
                    specs = [stack.operator.planner.exec_job("true", chat_id=c) for c in chats]
                    ids = {spec.job_id for spec in specs}
                    started = time.perf_counter()
                    await asyncio.gather(
                        *(start_without_card(stack.operator, sp, "bench") for sp in specs)
                    )
                    while True:
                        done = {
                            m.plain_text.split()[1]
                            for m in api.sent
                            if m.chat_id in chats and "completed" in (m.plain_text or "")
                        }
                        if ids <= done:
                            break
                        await asyncio.sleep(0.02)
                    results[side][1].append(jobs / (time.perf_counter() - started))
            finally:
                scraping.cancel()
                await ops.stop()
    return results


async def main(
    jobs: int,
    samples: int,
    conversation: int,
    burst_size: int,
    llm: str | None = None,
    metrics: bool = False,
    llm_delay: float = 1.5,
) -> None:
    with tempfile.TemporaryDirectory(prefix="hbo-bench-") as tmp:
        data = Path(tmp)
        async with temporal_dev_server(data / "temporal.db") as (server, client):
            async with BotApiEmulator(token=TEST_TOKEN) as botapi:
                users = [LATENCY_USERS + i for i in range(samples)]
                settings = make_settings(
                    data,
                    server.target,
                    TELEGRAM_BASE_URL=botapi.base_url,
                    TELEGRAM_ALLOWED_USER_IDS=",".join(
                        str(u) for u in [*users, CONVERSATION_USER, BURST_USER]
                    ),
                )
                async with running_stack(settings, client) as stack:
                    base_rate, base_latency = await baseline(client, jobs, samples)

                    # Throughput: N one-step jobs at once, one chat each, done when every result
                    # has arrived.
                    chats = range(900_000, 900_000 + jobs)
                    specs = [stack.operator.planner.exec_job("true", chat_id=c) for c in chats]
                    ids = {s.job_id for s in specs}
                    started = time.perf_counter()
                    await asyncio.gather(
                        *(start_without_card(stack.operator, s, "bench") for s in specs)
                    )
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline:
                        done = {
                            m.plain_text.split()[1]
                            for m in botapi.sent
                            if m.chat_id in chats and "completed" in (m.plain_text or "")
                        }
                        if ids <= done:
                            break
                        await asyncio.sleep(0.02)
                    rate = jobs / (time.perf_counter() - started)
                    events = await history_events(client, specs[0].job_id)

                    idle = [
                        await one_request(botapi, user, f"idle-{i}-{time.time_ns()}")
                        for i, user in enumerate(users)
                    ]
                    talk = [
                        await one_request(botapi, CONVERSATION_USER, f"talk-{i}-{time.time_ns()}")
                        for i in range(conversation)
                    ]
                    await asyncio.sleep(0.3)
                    burst_latency, burst_done, inversions, once = await burst(botapi, burst_size)
                if llm is not None:
                    llm_figures = await exec_latency_with_llm(
                        server, client, data, llm, samples, llm_delay
                    )
                if metrics:
                    on_off = await metrics_on_vs_off(server, client, data, samples, jobs)

    print(f"baseline (1-activity workflow): {base_rate:7.1f} workflows/s  (n={jobs})")
    print(f"full job (exec+report+notify):  {rate:7.1f} jobs/s       (n={jobs})")
    print(f"ratio job/baseline:             {rate / base_rate:7.2f}")
    print(f"history events per /exec job:   {events:7d}")
    print(f"baseline start→result:          {figures(base_latency)}")
    print(f"idle chats request→result:      {figures(idle)}")
    print(f"conversation (one chat):        {figures(talk)}")
    print(
        f"burst of {burst_size} in one chat:        {figures(burst_latency)}  "
        f"results {burst_done}/{burst_size}, each once: {once}, "
        f"out of request order: {inversions}"
    )
    if llm is not None:
        plain, with_llm = llm_figures.plain, llm_figures.with_llm
        base_p50, llm_p50 = statistics.median(plain), statistics.median(with_llm)
        what = f"slow ({llm_delay:g} s a call)" if llm == "slow" else llm
        print(f"conversation, no model:         {figures(plain)}")
        print(f"conversation, model {what}: {figures(with_llm)}")
        print(
            f"  request→output p50 ratio model/no model: {llm_p50 / base_p50:.2f}  "
            f"(in turn, n={len(plain)} each; goal <= 1.20)"
        )
        first = llm_figures.first
        print(
            f"  first {len(first)} requests after start, model {llm}: "
            + ", ".join(f"{ms:.0f}" for ms in first)
            + f" ms (after one short warm-up job each side); the first {first[0]:.0f} ms vs "
            "no-model p50 + 1 s = "
            f"{base_p50 + 1000:.0f} ms (goal: <=)"
        )
        if llm_figures.summary_after:
            after = llm_figures.summary_after
            print(
                f"  summary edited in after the output: {figures(after)}; "
                f"goal <= model latency + 0.5 s = {llm_delay * 1000 + 500:.0f} ms"
            )
    if metrics:
        (off_talk, off_rate), (on_talk, on_rate) = on_off["off"], on_off["on"]
        talk_ratio = statistics.median(on_talk) / statistics.median(off_talk)
        rate_ratio = statistics.mean(on_rate) / statistics.mean(off_rate)
        print(f"conversation, metrics off:      {figures(off_talk)}")
        print(f"conversation, metrics on:       {figures(on_talk)}")
        print(
            f"metrics on/off, in turn: p50 latency ratio {talk_ratio:.3f}, throughput "
            f"{statistics.mean(on_rate):.1f} vs {statistics.mean(off_rate):.1f} jobs/s "
            f"(ratio {rate_ratio:.3f}; goal: latency <= 1.05, throughput >= 0.95)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--conversation", type=int, default=20)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument(
        "--llm",
        choices=["slow", "down", "hang"],
        default=None,
        help="also measure /exec with a model that is slow (answers after --llm-delay), down "
        "or hangs, beside no model, in the same run (default: none)",
    )
    parser.add_argument(
        "--llm-delay", type=float, default=1.5, help="seconds a slow model takes per call"
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="also measure conversation latency and throughput with metrics on vs off",
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.jobs,
            args.latency_samples,
            args.conversation,
            args.burst,
            args.llm,
            args.metrics,
            args.llm_delay,
        )
    )
