"""StatsWorkflow: `/stats` for one chat — the reporting worker gathers the figures (Temporal
visibility and the report ledger) and draws the chart, then the notify worker sends it as a photo
with a one-line caption. Rendering never runs in the bot's process loop: the bot only starts this
workflow and waits for its short answer."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows import calls

with workflow.unsafe.imports_passed_through():
    from core.domain.activity_stubs import notify_send_photo, render_stats
    from core.domain.messages import PhotoMessage
    from core.domain.stats import StatsRequest, StatsResult
    from core.domain.temporal_names import NOTIFY_QUEUE, REPORTING_QUEUE

RENDER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
SEND_RETRY = calls.delivery_retry(10)


@workflow.defn(name="StatsWorkflow")
class StatsWorkflow:
    @workflow.run
    async def run(self, request: StatsRequest) -> StatsResult:
        if request.now is None:
            request = request.model_copy(update={"now": workflow.now()})
        chart = await workflow.execute_activity(
            render_stats,
            request,
            task_queue=REPORTING_QUEUE,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RENDER_RETRY,
        )
        photo = PhotoMessage(
            chat_id=request.chat_id,
            topic_id=request.topic_id,
            png=chart.png,
            caption=chart.caption,
            filename=f"stats-{request.period}.png",
        )
        sent = await workflow.execute_activity(
            notify_send_photo,
            photo,
            task_queue=NOTIFY_QUEUE,
            start_to_close_timeout=timedelta(seconds=60),
            schedule_to_close_timeout=timedelta(minutes=5),
            retry_policy=SEND_RETRY,
        )
        return StatsResult(
            caption=chart.caption,
            jobs=chart.jobs,
            png_bytes=len(chart.png),
            message_id=sent.message_ids[0] if sent.message_ids else None,
        )
