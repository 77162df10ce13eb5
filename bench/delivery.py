"""Two ways to deliver a job's chat message, measured on one dev server:

  A. activity  — the job workflow runs `notify.send` itself (what JobWorkflow does today);
                 per-chat pacing and order in the notify worker's process.
  B. outbox    — the job workflow runs a tiny activity that signal-with-starts a per-chat entity
                 workflow (`outbox-<chat>`), which runs `notify.send` for each queued message in
                 order. Per-chat order and pacing hold across any number of worker hosts.

    .venv/bin/python bench/delivery.py [--samples 40]

Prints p50/p95 of "job decides to notify" → "the Bot API emulator has the message" for both.
Pacing is off here (interval 0) so only the Temporal path is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.notify import NotifyActivities
from activities.telegram.pacing import ChatPacer
from activities.telegram.telegram_sender import TelegramSender
from bench._server import temporal_dev_server
from core.domain.messages import ChatMessage
from core.io.db import Database
from core.io.ledger import ReportLedgerStore
from core.io.store import AuditLog
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings

QUEUE = "bench-delivery"


@workflow.defn(name="BenchDirect", sandboxed=False)
class BenchDirect:
    @workflow.run
    async def run(self, message: ChatMessage) -> None:
        await workflow.execute_activity(
            "notify.send", message, start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn(name="BenchOutbox", sandboxed=False)
class BenchOutbox:
    """The per-chat entity: sends queued messages in order (continue-as-new omitted here)."""

    def __init__(self) -> None:
        self.queue: list[ChatMessage] = []

    @workflow.signal
    def enqueue(self, message: ChatMessage) -> None:
        self.queue.append(message)

    @workflow.run
    async def run(self) -> None:
        while True:
            try:
                await workflow.wait_condition(
                    lambda: bool(self.queue), timeout=timedelta(seconds=30)
                )
            except TimeoutError:
                return
            message = self.queue.pop(0)
            await workflow.execute_activity(
                "notify.send", message, start_to_close_timeout=timedelta(seconds=30)
            )


@activity.defn(name="bench.enqueue")
async def enqueue(message: ChatMessage) -> None:
    await activity.client().start_workflow(
        "BenchOutbox",
        id=f"outbox-{message.chat_id}",
        task_queue=QUEUE,
        start_signal="enqueue",
        start_signal_args=[message],
    )


@workflow.defn(name="BenchViaOutbox", sandboxed=False)
class BenchViaOutbox:
    @workflow.run
    async def run(self, message: ChatMessage) -> None:
        await workflow.execute_activity(
            enqueue, message, start_to_close_timeout=timedelta(seconds=30)
        )


async def measure(
    client: Client, botapi: BotApiEmulator, workflow_name: str, n: int
) -> list[float]:
    out: list[float] = []
    chat = 5000 + len(botapi.sent)
    for i in range(n):
        marker = f"{workflow_name}-{i}-{uuid.uuid4().hex[:6]}"
        t0 = time.perf_counter()
        await client.start_workflow(
            workflow_name,
            ChatMessage(chat_id=chat, text=marker),
            id=f"bench-{marker}",
            task_queue=QUEUE,
        )
        await botapi.wait_for(lambda m, marker=marker: m.text == marker, timeout=30)
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def main(samples: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hbo-bench-delivery-") as tmp:
        data = Path(tmp)
        db = Database(f"sqlite+aiosqlite:///{data / 'op.db'}")
        await db.migrate()
        try:
            async with (
                temporal_dev_server() as (server, client),
                BotApiEmulator(token=TEST_TOKEN) as botapi,
            ):
                settings = make_settings(data, server.target, TELEGRAM_BASE_URL=botapi.base_url)
                sender = TelegramSender(settings, pacer=ChatPacer())
                notify = NotifyActivities(sender, ReportLedgerStore(db), AuditLog(db))
                async with Worker(
                    client,
                    task_queue=QUEUE,
                    workflows=[BenchDirect, BenchOutbox, BenchViaOutbox],
                    activities=[notify.send, enqueue],
                    workflow_runner=UnsandboxedWorkflowRunner(),
                ):
                    await measure(client, botapi, "BenchDirect", 5)  # warm-up
                    await measure(client, botapi, "BenchViaOutbox", 5)
                    for name, label in (
                        ("BenchDirect", "A activity"),
                        ("BenchViaOutbox", "B outbox"),
                    ):
                        times = sorted(await measure(client, botapi, name, samples))
                        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                        print(
                            f"{label:11s} p50 {statistics.median(times):5.0f} ms  "
                            f"p95 {p95:5.0f} ms  (n={samples})"
                        )
                await sender.close()
        finally:
            await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=40)
    asyncio.run(main(parser.parse_args().samples))
