"""The heartbeat agent when the model endpoint is down, hangs or answers garbage: the run is
recorded as skipped (not failed: an outage never pauses the schedule), the workflow ends
normally, and nothing reaches the chat."""

from __future__ import annotations

import pytest

from tests.heartbeat.harness import Harness, llm_configured
from tests.support.chat_checks import assert_no_internals
from tests.support.llm_server import FAULT_MODES, Mode, ScriptedLLM

PROMPT = "Check whether the nightly backup job has finished; report problems only."


@pytest.mark.parametrize("mode", FAULT_MODES)
async def test_an_llm_outage_skips_the_run(hb: Harness, mode: Mode) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, prompt=PROMPT, workspace_file_path="")
    saved = hb.settings.llm_job_timeout_seconds
    hb.settings.llm_job_timeout_seconds = 1
    try:
        async with ScriptedLLM(mode=mode) as server:
            with llm_configured(hb.settings, server.base_url):
                runs = [await hb.run(target) for _ in range(4)]  # past the failure limit (3)
    finally:
        hb.settings.llm_job_timeout_seconds = saved
    for summary in runs:
        assert summary.outcome == "skipped", summary
        assert "language model is unavailable" in summary.reason
    recorded = await hb.store.recent_runs(target)
    assert [r.outcome for r in recorded] == ["skipped"] * 4
    row = await hb.store.get(target)
    assert row is not None and row.consecutive_failures == 0  # so the schedule is not paused
    assert hb.sent_to(chat) == []
    assert_no_internals(hb.emulator.sent)


async def test_infer_with_the_model_down_says_so_and_changes_nothing(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, prompt=PROMPT, workspace_file_path="")
    async with ScriptedLLM(mode="down") as server:
        with llm_configured(hb.settings, server.base_url):
            answer, proposed = await hb.admin.infer(target)
    assert not proposed and "not answering" in answer and "Nothing changed" in answer
