"""The LLM wrapper against a real OpenAI-compatible server that misbehaves: every kind of
failure is one `LlmUnavailable`, the breaker stops calling a failing endpoint after N failures
in a row and tries again after its reset time, and an outage is numbered so a chat can be told
once per outage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from core.io.llm.client import Llm, LlmUnavailable, llm_for, outage
from core.io.settings import Settings
from tests.support.llm_server import FAULT_MODES, GARBAGE, Mode, ScriptedLLM, ScriptedReply, text
from tests.support.stack import make_settings


def settings_for(tmp_path: Path, server: ScriptedLLM, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "sk-test-not-real",
        "OPENAI_BASE_URL": server.base_url,
        "LLM_TIMEOUT_SECONDS": 0.5,
        "LLM_BREAKER_FAILURES": 3,
        "LLM_BREAKER_RESET_SECONDS": 600,
    }
    values.update(overrides)
    return make_settings(tmp_path, "127.0.0.1:1", **values)


async def ask(llm: Llm) -> str:
    response = await llm.complete(model="m", messages=[{"role": "user", "content": "hello"}])
    return response.choices[0].message.content or ""


@pytest.mark.parametrize("mode", FAULT_MODES)
async def test_every_failure_is_unavailable_and_the_breaker_stops_calling(
    tmp_path: Path, mode: Mode
) -> None:
    async with ScriptedLLM(mode=mode) as server:
        settings = settings_for(tmp_path, server)
        llm = llm_for(settings, interactive=True)
        assert llm is not None and outage(settings) is None
        for _ in range(3):
            with pytest.raises(LlmUnavailable):
                await ask(llm)
        reached = len(server.requests)
        assert reached == (0 if mode == "down" else 3)
        assert outage(settings) is not None
        for _ in range(5):  # open: not called at all
            with pytest.raises(LlmUnavailable, match="circuit breaker is open"):
                await ask(llm)
        assert len(server.requests) == reached


async def test_each_kind_of_garbage_is_unavailable(tmp_path: Path) -> None:
    async with ScriptedLLM(mode="garbage") as server:
        settings = settings_for(tmp_path, server, LLM_BREAKER_FAILURES=100)
        llm = llm_for(settings, interactive=False)
        assert llm is not None
        reasons = []
        for _ in GARBAGE:
            with pytest.raises(LlmUnavailable) as caught:
                await ask(llm)
            reasons.append(str(caught.value))
        assert len(server.requests) == len(GARBAGE)
        # The reason names the kind of failure; it never quotes what the server sent.
        assert not any("<html>" in r or "just a string" in r for r in reasons), reasons
        assert reasons[-1].endswith("(HTTP 500)")


async def test_the_breaker_closes_after_a_good_trial_and_a_new_outage_is_numbered(
    tmp_path: Path,
) -> None:
    async with ScriptedLLM() as server:
        settings = settings_for(
            tmp_path, server, LLM_BREAKER_FAILURES=2, LLM_BREAKER_RESET_SECONDS=0.2
        )
        llm = llm_for(settings, interactive=True)
        assert llm is not None
        server.push(ScriptedReply(status=500), ScriptedReply(status=502), text("back"))
        for _ in range(2):
            with pytest.raises(LlmUnavailable):
                await ask(llm)
        first = outage(settings)
        assert first is not None
        # Open: calls are skipped until the reset time has passed, then one trial goes through.
        answer = ""
        deadline = asyncio.get_running_loop().time() + 10
        while not answer and asyncio.get_running_loop().time() < deadline:
            try:
                answer = await ask(llm)
            except LlmUnavailable:
                await asyncio.sleep(0.05)
        assert answer == "back" and len(server.requests) == 3
        assert outage(settings) is None
        server.push(ScriptedReply(status=503))
        with pytest.raises(LlmUnavailable):
            await ask(llm)
        second = outage(settings)
        assert second is not None and second > first


async def test_a_refused_request_is_no_outage(tmp_path: Path) -> None:
    async with ScriptedLLM([ScriptedReply(status=400)] * 5) as server:
        settings = settings_for(tmp_path, server, LLM_BREAKER_FAILURES=2)
        llm = llm_for(settings, interactive=True)
        assert llm is not None
        for _ in range(4):
            with pytest.raises(LlmUnavailable) as caught:
                await ask(llm)
            assert caught.value.status == 400
        assert len(server.requests) == 4  # the breaker never opened
        assert outage(settings) is None


async def test_without_a_key_there_is_no_llm(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "127.0.0.1:1")
    assert llm_for(settings, interactive=True) is None and outage(settings) is None
