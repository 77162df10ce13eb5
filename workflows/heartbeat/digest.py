"""JobDigestWorkflow: the built-in workflow-trigger heartbeat (`workflow_id: job-digest`).

A heartbeat that names it starts it instead of running a prompt; it posts what the chat's jobs
did since the previous run (nothing when nothing happened) and returns what it did.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows import calls

with workflow.unsafe.imports_passed_through():
    from core.domain.activity_stubs import heartbeat_job_digest
    from core.domain.heartbeat.models import HeartbeatRunSummary, HeartbeatTrigger
    from core.domain.messages import ChatMessage
    from core.domain.temporal_names import OPERATOR_QUEUE


@workflow.defn(name="JobDigestWorkflow")
class JobDigestWorkflow:
    @workflow.run
    async def run(self, trigger: HeartbeatTrigger) -> HeartbeatRunSummary:
        text = await workflow.execute_activity(
            heartbeat_job_digest,
            trigger,
            task_queue=OPERATOR_QUEUE,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        if not text:
            return HeartbeatRunSummary(outcome="silent", reason="no job ended or ran")
        if not trigger.dispatch_results:
            return HeartbeatRunSummary(outcome="silent", reason="digest stored only")
        message = ChatMessage(
            chat_id=trigger.target.chat_id, topic_id=trigger.target.topic_id, text=text
        )
        await calls.send(message, calls.delivery_retry(10), give_up_after=timedelta(minutes=10))
        return HeartbeatRunSummary(outcome="posted", reason="job digest posted")
