"""`/metrics`, `/healthz`, `/readyz`: the SDK's and the app's metrics after one job through the
Bot API emulator; readiness that follows the Temporal server going away and coming back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.io.devserver import DevServer, find_temporal_cli
from core.io.health import (
    OpsPortError,
    Readiness,
    bot_poll_check,
    database_check,
    temporal_check,
    workers_check,
)
from core.io.metrics import sdk_runtime
from core.io.ops_server import OpsServer
from tests.support.botapi import BotApiEmulator
from tests.support.namespaces import new_namespace
from tests.support.stack import ALLOWED_USER, TEST_TOKEN, Stack, free_port, make_settings
from tests.support.stack import running_stack as _running_stack


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def eventually(probe: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll an async probe returning True within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await probe():  # type: ignore[misc]
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


def _readiness(stack: Stack, readiness: Readiness) -> None:
    readiness.checks.update(
        temporal=temporal_check(stack.runtime.client),
        database=database_check(stack.runtime.db),
        workers=workers_check(readiness),
        bot=bot_poll_check(readiness, within=30),
    )


@pytest.fixture
async def ops_stack(
    dev_server: DevServer, client: Client, tmp_path: Path
) -> AsyncIterator[tuple[Stack, BotApiEmulator, OpsServer]]:
    """The stack as one process runs it: its own SDK runtime exporting metrics, its own bot
    polling its own emulator, and the ops endpoint on a free port."""
    sdk_port = free_port()
    # A namespace of its own: the session's shared workers must not take this stack's tasks
    # (their metrics would go to another runtime's exporter).
    namespace = (await new_namespace(dev_server.target, client, "ops")).namespace
    own = await Client.connect(
        dev_server.target,
        namespace=namespace,
        data_converter=pydantic_data_converter,
        runtime=sdk_runtime(sdk_port, process="test"),
    )
    readiness = Readiness()
    async with BotApiEmulator(token=TEST_TOKEN) as botapi:
        settings = make_settings(
            tmp_path,
            dev_server.target,
            TELEGRAM_BASE_URL=botapi.base_url,
            TEMPORAL_NAMESPACE=namespace,
        )
        async with _running_stack(settings, own, readiness=readiness) as stack:
            _readiness(stack, readiness)
            server = OpsServer("127.0.0.1", 0, readiness, [sdk_port])
            await server.start()
            try:
                yield stack, botapi, server
            finally:
                await server.stop()


async def test_metrics_move_by_one_job(
    ops_stack: tuple[Stack, BotApiEmulator, OpsServer],
) -> None:
    _stack, botapi, server = ops_stack
    async with httpx.AsyncClient(timeout=10) as http:

        async def scrape() -> str:
            response = await http.get(server.url)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            return response.text

        async def ready() -> bool:
            return (await http.get(server.url.replace("/metrics", "/readyz"))).status_code == 200

        await eventually(ready)
        before = await scrape()
        botapi.inject_message("/exec echo metrics-ok", user_id=ALLOWED_USER, chat_id=ALLOWED_USER)
        await botapi.wait_for_shown(
            lambda m: m.chat_id == ALLOWED_USER and "metrics-ok" in m.plain_text, timeout=30
        )
        finished = {"worker": "execution", "state": "completed"}

        async def counted() -> bool:
            # The result is shown a moment before the notify activity records its delivery
            # time (after the ledger's confirm): wait for both.
            now = await scrape()
            told = metric(now, "hbo_result_delivery_seconds_count", state="completed")
            told_before = metric(before, "hbo_result_delivery_seconds_count", state="completed")
            return metric(now, "hbo_jobs_finished_total", **finished) == 1 and told > told_before

        await eventually(counted)
        after = await scrape()

    def moved(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    # The job counters come through the SDK's exporter, from the workflow's meter.
    assert moved("hbo_jobs_started_total", worker="execution") == 1
    assert moved("hbo_jobs_finished_total", **finished) == 1
    assert moved("hbo_jobs_finished_total") == 1
    # The app's own, from prometheus-client.
    assert moved("hbo_telegram_sends_total", outcome="ok") >= 1
    assert moved("hbo_telegram_sends_total", outcome="429") == 0
    assert moved("hbo_ledger_claims_total", outcome="claimed") >= 1
    assert moved("hbo_result_delivery_seconds_count", state="completed") == 1
    # The SDK's own: this process polled and completed workflow and activity tasks.
    assert moved("temporal_workflow_completed_total", hbo_process="test") >= 1
    assert moved("temporal_activity_execution_latency_count", task_queue="execution") >= 1


async def test_healthz_and_readyz_answer_json(
    ops_stack: tuple[Stack, BotApiEmulator, OpsServer],
) -> None:
    _stack, _botapi, server = ops_stack
    base = server.url.removesuffix("/metrics")
    async with httpx.AsyncClient(timeout=10) as http:
        health = await http.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "up"}

        async def ready() -> bool:
            return (await http.get(f"{base}/readyz")).status_code == 200

        await eventually(ready)
        body = (await http.get(f"{base}/readyz")).json()
        assert body["status"] == "ready"
        assert body["checks"] == {"temporal": "ok", "database": "ok", "workers": "ok", "bot": "ok"}


async def test_readyz_follows_the_temporal_server(tmp_path: Path) -> None:
    server = DevServer(
        find_temporal_cli(), port=free_port(), ui_port=None, db_file=tmp_path / "temporal.db"
    )
    await server.start()
    try:
        client = await Client.connect(server.target, data_converter=pydantic_data_converter)
        readiness = Readiness()
        settings = make_settings(tmp_path, server.target)
        async with _running_stack(settings, client, bot=False, readiness=readiness) as stack:
            readiness.checks.update(
                temporal=temporal_check(stack.runtime.client),
                database=database_check(stack.runtime.db),
                workers=workers_check(readiness),
            )
            ops = OpsServer("127.0.0.1", 0, readiness)
            await ops.start()
            readyz = ops.url.replace("/metrics", "/readyz")
            try:
                async with httpx.AsyncClient(timeout=10) as http:

                    def status(code: int) -> Callable[[], object]:
                        async def probe() -> bool:
                            return (await http.get(readyz)).status_code == code

                        return probe

                    await eventually(status(200))
                    await server.stop()
                    await eventually(status(503))
                    body = (await http.get(readyz)).json()
                    assert body["status"] == "unready" and body["checks"]["temporal"] != "ok"
                    assert body["checks"]["database"] == "ok"
                    healthz = await http.get(ops.url.replace("/metrics", "/healthz"))
                    assert healthz.status_code == 200  # up, though not ready
                    await server.start()
                    await eventually(status(200), timeout=60)
            finally:
                await ops.stop()
    finally:
        await server.stop()


async def test_a_metrics_port_in_use_is_refused_with_a_clear_message() -> None:
    taken = OpsServer("127.0.0.1", 0, Readiness())
    await taken.start()
    try:
        with pytest.raises(OpsPortError, match=f"HBO_METRICS_PORT {taken.port} .*free port"):
            await OpsServer("127.0.0.1", taken.port, Readiness()).start()
    finally:
        await taken.stop()
