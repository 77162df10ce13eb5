"""Fixtures for the heartbeat tests: one harness (own namespace, own emulator, injected clock)
shared by the session; each test uses chat ids of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.client import Client

from core.io.devserver import DevServer
from tests.heartbeat.harness import Harness, llm_configured, running_harness
from tests.support.llm_server import ScriptedLLM


@pytest.fixture(scope="session")
async def hb(
    dev_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    async with running_harness(
        dev_server.target, client, tmp_path_factory.mktemp("heartbeat")
    ) as harness:
        yield harness


@pytest.fixture(autouse=True)
def _reset_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "hb" in request.fixturenames:
        request.getfixturevalue("hb").clock.reset()


@pytest.fixture
async def llm(hb: Harness) -> AsyncIterator[ScriptedLLM]:
    async with ScriptedLLM() as server:
        with llm_configured(hb.settings, server.base_url):
            yield server
