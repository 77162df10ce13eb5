"""The job steps that use the LLM fall back to their plain output when the model endpoint is
down, hangs or answers garbage — and when it answers valid JSON of the wrong shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.reporting import ReportingActivities
from activities.research import Source, llm_notes
from core.domain.jobs.models import StepInput, StepOutput, SummaryRequest
from core.domain.jobs.report import SUMMARY_LINES, SUMMARY_MIN_CHARS
from core.io.settings import Settings
from tests.support.llm_server import FAULT_MODES, Mode, ScriptedLLM, text
from tests.support.stack import make_settings


def llm_settings(tmp_path: Path, server: ScriptedLLM, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "sk-test-not-real",
        "OPENAI_BASE_URL": server.base_url,
        "LLM_JOB_TIMEOUT_SECONDS": 0.5,
    }
    values.update(overrides)
    return make_settings(tmp_path, "127.0.0.1:1", **values)


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


LONG_OUTPUT = "".join(f"line {i}\n" for i in range(SUMMARY_LINES + 1))


@pytest.mark.parametrize("mode", FAULT_MODES)
async def test_the_summary_is_skipped_when_the_model_misbehaves(tmp_path: Path, mode: Mode) -> None:
    async with ScriptedLLM(mode=mode) as server:
        activities = ReportingActivities(llm_settings(tmp_path, server))
        env = ActivityEnvironment()
        step = report_step(
            previous=[StepOutput(worker="execution", summary="exit 0", output=LONG_OUTPUT)]
        )
        out = await env.run(activities.summarize, step)
        summary = await env.run(
            activities.model_summary, SummaryRequest(job_id=step.job_id, workspace=step.workspace)
        )
    assert out.data["summary_wanted"] is True  # the step itself never calls the model
    assert "Output" in out.output and "line 8" in out.output
    assert summary == ""


async def test_the_summary_comes_from_a_working_model(tmp_path: Path) -> None:
    async with ScriptedLLM([text("All good: <echo> printed the lines.")]) as server:
        activities = ReportingActivities(llm_settings(tmp_path, server))
        env = ActivityEnvironment()
        step = report_step(
            previous=[StepOutput(worker="execution", summary="exit 0", output=LONG_OUTPUT)]
        )
        out = await env.run(activities.summarize, step)
        summary = await env.run(
            activities.model_summary, SummaryRequest(job_id=step.job_id, workspace=step.workspace)
        )
        asked = server.requests[0]["messages"][1]["content"]
    assert out.output.startswith("<b>execution</b>")  # the result as told: no model in it
    assert summary == "All good: &lt;echo&gt; printed the lines."
    assert "line 8" in asked  # the model read report.md


@pytest.mark.parametrize(
    ("output", "model", "wanted"),
    [
        ("plain output\n", True, False),  # read at a glance: a summary would only repeat it
        (LONG_OUTPUT, True, True),
        ("x" * (SUMMARY_MIN_CHARS + 1), True, True),
        (LONG_OUTPUT, False, False),  # no model: no further activity
    ],
)
async def test_a_summary_is_wanted_only_for_long_output_with_a_model(
    tmp_path: Path, output: str, model: bool, wanted: bool
) -> None:
    async with ScriptedLLM() as server:
        settings = (
            llm_settings(tmp_path, server)
            if model
            else llm_settings(tmp_path, server, OPENAI_API_KEY="")
        )
        step = report_step(previous=[StepOutput(worker="execution", output=output)])
        out = await ActivityEnvironment().run(ReportingActivities(settings).summarize, step)
    assert out.data.get("summary_wanted", False) is wanted
    assert not server.requests


@pytest.mark.parametrize("mode", [*FAULT_MODES, "wrong-shape"])
async def test_research_notes_fall_back(tmp_path: Path, mode: str) -> None:
    script = [text('["a list, not an object"]')] if mode == "wrong-shape" else []
    fault: Mode = "script" if mode == "wrong-shape" else mode  # type: ignore[assignment]
    async with ScriptedLLM(script, mode=fault) as server:
        sources = [Source(kind="file", ref="notes.txt", ok=True, excerpt="hello")]
        notes = await llm_notes(llm_settings(tmp_path, server), "summarize notes.txt", sources)
    assert notes is None  # the caller writes the deterministic notes
