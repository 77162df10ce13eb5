"""What a work step tells about itself while it runs: its heartbeat details (what `/job` and the
live card show) and, once it has run long, one signal to its job's workflow (`step_running_long`)
so the workflow keeps the job's card live. A step that ends sooner sends no signal: its job's
history stays as short as a fast job's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from temporalio import activity

from activities.keepalive import keep_alive
from core.domain.jobs.models import StepInput

# How often a step that has no progress of its own (research waiting on a page or a model)
# beats: often enough for a 10 s heartbeat timeout and for the live card's pace.
TICK_SECONDS = 1.0


class LongStepNotice:
    """Tells the workflow once that step `step` has run `after` seconds, if its job shows a card."""

    def __init__(self, step: StepInput, after: float) -> None:
        self.step, self.after = step, after
        self.told = not step.live_card
        self._task: asyncio.Task[None] | None = None

    def check(self, elapsed_seconds: float) -> None:
        if not self.told and elapsed_seconds >= self.after:
            self.told = True
            self._task = asyncio.create_task(self._tell())

    async def _tell(self) -> None:
        try:
            handle = activity.client().get_workflow_handle(self.step.job_id)
            await handle.signal("step_running_long", self.step.step_index)
        except Exception as exc:  # the card stays as it is; the step goes on
            activity.logger.info("job %s: live card not asked for: %s", self.step.job_id, exc)


@contextlib.asynccontextmanager
async def ticking(
    step: StepInput, after: float, details: Callable[[], dict[str, Any]]
) -> AsyncIterator[None]:
    """Beat `details()` every TICK_SECONDS while the body runs (a step that awaits a page or a
    model has no output of its own to beat with), and ask for a live card once it runs long."""
    notice = LongStepNotice(step, after)
    started = time.monotonic()
    async with keep_alive(
        TICK_SECONDS,
        lambda: (details(),),
        after_beat=lambda: notice.check(time.monotonic() - started),
    ):
        yield
