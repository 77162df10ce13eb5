"""The heartbeat test harness: the product's workers in a namespace of their own on the session
dev server (so nobody else's workers take its tasks), a Bot API emulator of its own, and an
injected clock for the activities' time-dependent guards."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Worker

from activities.telegram.sender import build_sender
from bot.heartbeat.admin import HeartbeatAdmin
from bot.operator import Operator
from bot.types import Incoming, Reply
from core.domain.heartbeat.config import HeartbeatOverrides
from core.domain.heartbeat.models import HeartbeatRunSummary
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.heartbeat.triggers import register_trigger_workflow
from core.domain.jobs.models import JobSpec, JobState
from core.domain.temporal_names import ALL_QUEUES, OPERATOR_QUEUE, SA_JOB_STATUS
from core.io.heartbeat.store import HeartbeatStore, overrides_of
from core.io.settings import Settings
from hbo.runtime import Runtime, open_runtime
from hbo.workers import build_workers
from tests.heartbeat.slow_trigger import SlowTriggerWorkflow
from tests.support.botapi import BotApiEmulator, SentMessage
from tests.support.chat_checks import assert_no_internals
from tests.support.jobs import start_without_card
from tests.support.namespaces import new_namespace
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, make_settings
from tests.support.visibility import wait_visible

TRIGGER_QUEUE = "heartbeat-test-triggers"


# An inline prompt (and no checklist file before it) gives a target something to watch: its runs
# go past the idle check (no running job, no checklist item, no trigger ends a run after one
# step) to the gates and the steps after.
WATCHING = {"prompt": "Is the disk more than 90 % full?", "workspace_file_path": ""}


class FakeClock:
    """Wall-clock time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def reset(self) -> None:
        self.offset = timedelta(0)


register_trigger_workflow("slow-test", "SlowTriggerWorkflow", TRIGGER_QUEUE)


@dataclass
class Harness:
    client: Client
    runtime: Runtime
    emulator: BotApiEmulator
    clock: FakeClock
    operator: Operator
    admin: HeartbeatAdmin
    store: HeartbeatStore
    data_dir: Path
    _ids: list[int] = field(default_factory=lambda: [900_000])

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def new_chat(self, group: bool = False) -> int:
        """A chat id no other test uses (groups are negative, like Telegram's)."""
        self._ids[0] += 1
        return -(10**12) - self._ids[0] if group else self._ids[0]

    async def target(
        self, chat_id: int, topic_id: int | None = None, **overrides: Any
    ) -> HeartbeatTarget:
        """A heartbeat target whose schedule is paused: tests run it when they choose."""
        target = HeartbeatTarget(chat_id=chat_id, topic_id=topic_id)
        await self.admin.ensure(target, source="command", enabled=False)
        if overrides:
            await self.set(target, **overrides)
        return target

    async def set(self, target: HeartbeatTarget, **overrides: Any) -> None:
        row = await self.store.get(target)
        assert row is not None
        values = {**overrides_of(row).explicit(), **overrides}
        await self.store.set_overrides(target, HeartbeatOverrides.model_validate(values))

    async def run(self, target: HeartbeatTarget) -> HeartbeatRunSummary:
        """One heartbeat run, as the schedule would start it."""
        return await self.client.execute_workflow(
            "HeartbeatWorkflow",
            target,
            id=f"{target.schedule_id}-test-{uuid.uuid4().hex[:8]}",
            task_queue=OPERATOR_QUEUE,
            result_type=HeartbeatRunSummary,
            execution_timeout=timedelta(seconds=60),
        )

    async def start_job(self, chat_id: int, command: str, **plan: Any) -> JobSpec:
        """A job as the operator starts one (its card counts as the "running" report)."""
        spec = self.operator.planner.exec_job(command, chat_id=chat_id, **plan)
        await start_without_card(self.operator, spec, "test")
        return spec

    async def wait_job(self, job_id: str, *states: JobState, timeout: float = 20) -> None:
        query = (
            f"WorkflowId = '{job_id}' AND JobStatus IN ({', '.join(repr(s.value) for s in states)})"
        )
        await wait_visible(self.client, query, timeout=timeout)

    async def job_state(self, job_id: str) -> JobState:
        """The job's state as its search attribute says now."""
        desc = await self.client.get_workflow_handle(job_id).describe()
        return JobState(desc.typed_search_attributes.get(SA_JOB_STATUS))

    async def say(self, chat_id: int, text: str, chat_type: str = "private") -> list[Reply]:
        return await self.operator.handle(
            Incoming(user_id=ALLOWED_USER, chat_id=chat_id, chat_type=chat_type, text=text)
        )

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return self.emulator.messages_to(chat_id)

    def heartbeat_messages(self, chat_id: int) -> list[str]:
        return [
            m.plain_text or "" for m in self.sent_to(chat_id) if "Heartbeat" in (m.plain_text or "")
        ]


@contextlib.asynccontextmanager
async def running_harness(
    server_target: str, admin_client: Client, data_dir: Path, **overrides: Any
) -> AsyncIterator[Harness]:
    client = await new_namespace(server_target, admin_client, "heartbeat")
    clock = FakeClock()
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        settings = make_settings(
            data_dir,
            server_target,
            TELEGRAM_BASE_URL=emulator.base_url,
            TEMPORAL_NAMESPACE=client.namespace,
            **overrides,
        )
        async with open_runtime(settings, client) as runtime:
            sender = build_sender(settings)
            workers = build_workers(runtime, ALL_QUEUES, sender, clock=clock)
            workers.append(
                Worker(client, task_queue=TRIGGER_QUEUE, workflows=[SlowTriggerWorkflow])
            )
            tasks = [asyncio.create_task(w.run()) for w in workers]
            operator = runtime.operator()
            try:
                yield Harness(
                    client=client,
                    runtime=runtime,
                    emulator=emulator,
                    clock=clock,
                    operator=operator,
                    admin=operator.heartbeats,
                    store=HeartbeatStore(runtime.db),
                    data_dir=data_dir,
                )
            finally:
                await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
                await asyncio.gather(*tasks, return_exceptions=True)
                await sender.close()
            assert_no_internals(emulator.sent + emulator.edits)


@contextlib.contextmanager
def llm_configured(settings: Settings, base_url: str) -> Any:
    """Point the running harness at a scripted LLM for one test (settings are read live)."""
    saved = (settings.openai_api_key, settings.openai_base_url)
    settings.openai_api_key = SecretStr("sk-test-not-real")
    settings.openai_base_url = base_url
    try:
        yield
    finally:
        settings.openai_api_key, settings.openai_base_url = saved


Predicate = Callable[[SentMessage], bool]
