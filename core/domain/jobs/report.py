"""The plain report of a job's outputs, pure: the reporting worker writes it, and the workflow
renders it itself when the reporting step has nothing else to do (a short output, no summary
wanted), so a plain command's result costs no activity more."""

from __future__ import annotations

from core.domain.jobs.models import StepOutput
from core.domain.render import esc, tail_text

OUTPUT_BUDGET = 3000  # room for the output excerpt inside one message
# The model is asked for at most this many short lines: an output no longer than that (in lines
# and characters) is read at a glance, and a summary would only repeat it.
SUMMARY_LINES = 8
SUMMARY_MIN_CHARS = 600


def deterministic_summary(outputs: list[StepOutput]) -> tuple[str, bool]:
    """(HTML body, shortened?) — the last step's output is what the person asked for."""
    lines = [f"<b>{esc(out.worker)}</b>: {esc(out.summary)}" for out in outputs]
    body = "\n".join(lines)
    last = next((o for o in reversed(outputs) if o.output.strip()), None)
    shortened = False
    if last is not None:
        text = last.output.rstrip()
        excerpt = tail_text(text, OUTPUT_BUDGET)
        shortened = excerpt != text
        label = "Output (last part)" if shortened else "Output"
        body += f"\n\n{label}:\n<pre>{esc(excerpt)}</pre>"
    return body, shortened


def summary_worth_asking(outputs: list[StepOutput]) -> bool:
    """A summary is asked for only when the output the person reads is longer than the summary
    could be: more than `SUMMARY_LINES` lines or `SUMMARY_MIN_CHARS` characters in all."""
    text = "\n".join(out.output.rstrip() for out in outputs if out.output.strip())
    return len(text.splitlines()) > SUMMARY_LINES or len(text) > SUMMARY_MIN_CHARS


def report_step_needed(outputs: list[StepOutput], model_summaries: bool) -> bool:
    """Whether the reporting step has work the workflow cannot do: a report file to attach (the
    output had to be shortened) or a model summary worth asking for."""
    _, shortened = deterministic_summary(outputs)
    return shortened or (model_summaries and summary_worth_asking(outputs))
