"""Reporting worker: turns the steps' raw outputs into a concise chat message (≤ 4096 UTF-16
units, HTML-escaped) and a full `report.md` in the workspace, offered as a document when the
message had to be shortened.

The model's summary is a second activity, `reporting.model_summary`, asked for after the result
was told: the person never waits for the model. The step only says whether one is worth asking
for (a model is configured and the output is longer than a summary would be); the summary is
then edited into the result message, or skipped when the model fails in any way (the job never
fails, nor waits, for the LLM's sake)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.keepalive import keep_alive
from core.domain.jobs.models import StepInput, StepOutput, SummaryRequest
from core.domain.jobs.report import deterministic_summary, summary_worth_asking
from core.domain.registry import StepRole, WorkerDefinition
from core.domain.render import esc
from core.domain.temporal_names import REPORTING_QUEUE
from core.io.llm.client import LlmUnavailable, llm_for
from core.io.settings import Settings
from core.io.workspace import Workspace, WorkspaceError

log = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "Summarize this job report for a busy engineer in at most 8 short lines of plain "
    "text. Lead with the outcome. No markdown."
)
SUMMARY_MAX_CHARS = 1500
# While the model thinks, the activity heartbeats: a reporting worker that died is noticed
# within the workflow's heartbeat timeout, not after the whole model timeout.
KEEPALIVE_SECONDS = 2.0


def full_report(step: StepInput) -> str:
    parts = [f"# Report for {step.job_id}\n\n**Goal:** {step.goal}\n"]
    for index, out in enumerate(step.previous, start=1):
        parts.append(f"## Step {index}: {out.worker}\n\n{out.summary}\n")
        if out.warning:
            parts.append(f"**Warning:** {out.warning}\n")
        if out.output.strip():
            parts.append("```\n" + out.output.rstrip() + "\n```\n")
        if out.files:
            parts.append("Files: " + ", ".join(out.files) + "\n")
    return "\n".join(parts)


async def llm_summary(settings: Settings, job_id: str, report: str) -> str:
    """The model's summary (HTML-escaped), or "" (no LLM, it failed, or it said nothing)."""
    llm = llm_for(settings, interactive=False)
    if llm is None:
        return ""
    try:
        text = await llm.ask(settings.openai_model, SUMMARY_PROMPT, report[:12000])
    except LlmUnavailable as exc:
        log.info("job %s: no LLM summary (%s); the result stands as told", job_id, exc)
        return ""
    return esc(text[:SUMMARY_MAX_CHARS]) if text else ""


class ReportingActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="reporting.summarize")
    async def summarize(self, step: StepInput) -> StepOutput:
        report = full_report(step)
        with Workspace.open(self.settings.workspaces_dir, step.workspace) as workspace:
            workspace.write_text("report.md", report)
        body, shortened = deterministic_summary(step.previous)
        data: dict[str, bool] = {"attach_report": shortened}
        if self.settings.llm_enabled and summary_worth_asking(step.previous):
            # Read by the workflow: it asks `model_summary` once the result is told. Absent
            # otherwise, so a job without a model costs no further activity.
            data["summary_wanted"] = True
        return StepOutput(
            worker=step.worker,
            summary="report written to report.md",
            output=body,
            files=["report.md"],
            data=data,
        )

    @activity.defn(name="reporting.model_summary")
    async def model_summary(self, request: SummaryRequest) -> str:
        """The model's summary of the job's `report.md` (HTML-escaped), or "" when there is
        none: no model, no report, or the model failed in any way."""
        try:
            with Workspace.open(self.settings.workspaces_dir, request.workspace) as workspace:
                report = workspace.read_text("report.md")
        except WorkspaceError as exc:
            log.info("job %s: no report to summarize (%s)", request.job_id, exc)
            return ""
        async with keep_alive(KEEPALIVE_SECONDS):
            return await llm_summary(self.settings, request.job_id, report)


WORKER = WorkerDefinition(
    name="reporting",
    role=StepRole.report,
    description="Turns raw outputs into a concise chat summary and a report file.",
    task_queue=REPORTING_QUEUE,
    step_activity="reporting.summarize",
    activities=lambda settings: _activities(ReportingActivities(settings)),
    capabilities=("summary", "report"),
    keywords=("report", "summary", "summarize"),
    in_default_plans=False,
)


def _activities(reporting: ReportingActivities) -> list[Callable[..., Any]]:
    return [reporting.summarize, reporting.model_summary]
