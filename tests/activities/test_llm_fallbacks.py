"""The job steps that use the LLM fall back to their plain output when the model endpoint is
down, hangs or answers garbage — and when it answers valid JSON of the wrong shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.reporting import ReportingActivities
from activities.research import Source, llm_notes
from core.jobs.models import StepInput, StepOutput
from core.settings import Settings
from tests.support.llm_server import FAULT_MODES, Mode, ScriptedLLM, text
from tests.support.stack import make_settings


def llm_settings(tmp_path: Path, server: ScriptedLLM) -> Settings:
    return make_settings(
        tmp_path,
        "127.0.0.1:1",
        OPENAI_API_KEY="sk-test-not-real",
        OPENAI_BASE_URL=server.base_url,
        LLM_JOB_TIMEOUT_SECONDS=0.5,
    )


def report_step(**overrides: Any) -> StepInput:
    values: dict[str, Any] = {
        "job_id": "job-fallback",
        "step_index": 1,
        "worker": "reporting",
        "goal": "run: echo plain",
        "workspace": "job-fallback",
        "previous": [StepOutput(worker="execution", summary="exit 0", output="plain output\n")],
    }
    values.update(overrides)
    return StepInput(**values)


@pytest.mark.parametrize("mode", FAULT_MODES)
async def test_the_report_is_the_plain_one(tmp_path: Path, mode: Mode) -> None:
    async with ScriptedLLM(mode=mode) as server:
        activities = ReportingActivities(llm_settings(tmp_path, server))
        out = await ActivityEnvironment().run(activities.summarize, report_step())
    assert out.data["llm"] is False
    assert "Output" in out.output and "plain output" in out.output


async def test_the_report_uses_a_working_model(tmp_path: Path) -> None:
    async with ScriptedLLM([text("All good: echo printed plain output.")]) as server:
        activities = ReportingActivities(llm_settings(tmp_path, server))
        out = await ActivityEnvironment().run(activities.summarize, report_step())
    assert out.data["llm"] is True and out.output.startswith("All good")


@pytest.mark.parametrize("mode", [*FAULT_MODES, "wrong-shape"])
async def test_research_notes_fall_back(tmp_path: Path, mode: str) -> None:
    script = [text('["a list, not an object"]')] if mode == "wrong-shape" else []
    fault: Mode = "script" if mode == "wrong-shape" else mode  # type: ignore[assignment]
    async with ScriptedLLM(script, mode=fault) as server:
        sources = [Source(kind="file", ref="notes.txt", ok=True, excerpt="hello")]
        notes = await llm_notes(llm_settings(tmp_path, server), "summarize notes.txt", sources)
    assert notes is None  # the caller writes the deterministic notes
