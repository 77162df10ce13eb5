"""Which jobs leave their reporting step to the workflow: a command's short output with no
model summary wanted is rendered in the workflow; a long output (a report file to attach) or
a summary worth asking the model for still runs the step, and research always does."""

from __future__ import annotations

from core.domain.jobs.models import StepOutput
from core.domain.jobs.planner import Planner
from core.domain.jobs.report import SUMMARY_LINES, report_step_needed
from core.io.plugins import discover_workers
from core.io.settings import Settings


def _out(text: str) -> list[StepOutput]:
    return [StepOutput(worker="execution", summary="exit 0", output=text)]


def test_a_short_output_needs_no_report_step_with_or_without_a_model() -> None:
    assert not report_step_needed(_out("ok\n"), model_summaries=False)
    assert not report_step_needed(_out("ok\n"), model_summaries=True)


def test_a_long_output_runs_the_report_step() -> None:
    many_lines = "".join(f"line {i}\n" for i in range(SUMMARY_LINES + 1))
    assert not report_step_needed(_out(many_lines), model_summaries=False)
    assert report_step_needed(_out(many_lines), model_summaries=True)  # a summary to ask for
    too_long = "x" * 10_000
    assert report_step_needed(_out(too_long), model_summaries=False)  # report.md to attach


def test_the_planner_marks_commands_not_research(tmp_path: object) -> None:
    settings = Settings(_env_file=None, HBO_DATA_DIR=str(tmp_path))  # type: ignore[call-arg]
    planner = Planner(discover_workers(), settings)
    command = planner.exec_job("echo hi", chat_id=1)
    research = planner.research_job("what is new", chat_id=1)
    assert command.steps[-1].worker == "reporting" and command.report_when_needed
    assert research.steps[-1].worker == "reporting" and not research.report_when_needed
    assert command.model_summaries is settings.llm_enabled
