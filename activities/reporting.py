"""Reporting worker: turns the steps' raw outputs into a concise chat message (≤ 4096 UTF-16
units, HTML-escaped) and a full `report.md` in the workspace, offered as a document when the
message had to be shortened. Uses the LLM for the summary when configured; without one, or when
it fails in any way, the report is the plain one (the job never fails for the LLM's sake)."""

from __future__ import annotations

import logging

from temporalio import activity

from core.jobs.models import StepInput, StepOutput
from core.llm.client import LlmUnavailable, llm_for
from core.registry import StepRole, WorkerDefinition
from core.render import TELEGRAM_MAX_CHARS, esc, tail_text, utf16_len
from core.settings import Settings
from core.temporal import REPORTING_QUEUE
from core.workspace import Workspace

log = logging.getLogger(__name__)

OUTPUT_BUDGET = 3000  # room for the output excerpt inside one message


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


def deterministic_summary(step: StepInput) -> tuple[str, bool]:
    """(HTML body, shortened?) — the last step's output is what the person asked for."""
    lines = [f"<b>{esc(out.worker)}</b>: {esc(out.summary)}" for out in step.previous]
    body = "\n".join(lines)
    last = next((o for o in reversed(step.previous) if o.output.strip()), None)
    shortened = False
    if last is not None:
        text = last.output.rstrip()
        excerpt = tail_text(text, OUTPUT_BUDGET)
        shortened = excerpt != text
        label = "Output (last part)" if shortened else "Output"
        body += f"\n\n{label}:\n<pre>{esc(excerpt)}</pre>"
    return body, shortened


async def llm_summary(settings: Settings, step: StepInput, report: str) -> str | None:
    """The model's summary, or None (no LLM, or it failed: the plain summary stands)."""
    llm = llm_for(settings, interactive=False)
    if llm is None:
        return None
    try:
        text = await llm.ask(
            settings.openai_model,
            "Summarize this job report for a busy engineer in at most 8 short lines of plain "
            "text. Lead with the outcome. No markdown.",
            report[:12000],
        )
    except LlmUnavailable as exc:
        log.info("job %s: no LLM summary (%s); the plain report is used", step.job_id, exc)
        return None
    return esc(text[:1500]) if text else None


class ReportingActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="reporting.summarize")
    async def summarize(self, step: StepInput) -> StepOutput:
        report = full_report(step)
        with Workspace.open(self.settings.workspaces_dir, step.workspace) as workspace:
            workspace.write_text("report.md", report)
        body, shortened = deterministic_summary(step)
        summary = await llm_summary(self.settings, step, report)
        if summary:
            body = summary + ("\n\n" + body.split("\n\n", 1)[1] if "\n\n" in body else "")
        if utf16_len(body) > TELEGRAM_MAX_CHARS - 300:  # leave room for the header
            body, shortened = deterministic_summary(step)
        return StepOutput(
            worker=step.worker,
            summary="report written to report.md",
            output=body,
            files=["report.md"],
            data={"attach_report": shortened, "llm": bool(summary)},
        )


WORKER = WorkerDefinition(
    name="reporting",
    role=StepRole.report,
    description="Turns raw outputs into a concise chat summary and a report file.",
    task_queue=REPORTING_QUEUE,
    step_activity="reporting.summarize",
    activities=lambda settings: [ReportingActivities(settings).summarize],
    capabilities=("summary", "report"),
    keywords=("report", "summary", "summarize"),
    in_default_plans=False,
)
