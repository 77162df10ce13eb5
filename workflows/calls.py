"""Activity calls that several workflows make alike: telling a chat and writing an audit entry,
with the retry policy of delivery. Kept in one place so a chat that is gone or a message
Telegram refuses is final everywhere, and a best-effort call fails the same way everywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.domain.activity_stubs import audit_job_event, notify_send
    from core.domain.jobs.models import AuditEvent
    from core.domain.messages import ChatMessage
    from core.domain.temporal_names import NOTIFY_QUEUE, OPERATOR_QUEUE

# A job message's activity heartbeats every half second from its start (activities/notify.py):
# a worker that died mid-send is noticed after this long and the send resumes on another, so a
# crash costs a person seconds, not the ten a longer timeout did. It leaves 2 s for a stalled
# event loop before a live sender is taken for dead (the fidelity run counts such retries).
NOTIFY_HEARTBEAT_TIMEOUT = timedelta(seconds=3)

# Errors after which sending again cannot help: the chat is gone, Telegram refuses the message.
UNDELIVERABLE = ("ChatUnreachable", "BadMessage")

Arg = TypeVar("Arg")


def delivery_retry(
    maximum_attempts: int, *also_final: str, first_retry: timedelta = timedelta(seconds=1)
) -> RetryPolicy:
    """Backoff from `first_retry` doubling to 30 s; `also_final` are further error types not
    to retry."""
    return RetryPolicy(
        initial_interval=first_retry,
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=maximum_attempts,
        non_retryable_error_types=[*UNDELIVERABLE, *also_final],
    )


async def send(message: ChatMessage, retry: RetryPolicy, give_up_after: timedelta) -> None:
    """One message through the notify queue (raises ActivityError when it cannot be sent)."""
    await workflow.execute_activity(
        notify_send,
        message,
        task_queue=NOTIFY_QUEUE,
        start_to_close_timeout=timedelta(seconds=60),
        schedule_to_close_timeout=give_up_after,
        retry_policy=retry,
    )


async def best_effort(
    activity: Callable[[Arg], Awaitable[object]],
    arg: Arg,
    *,
    task_queue: str,
    retry: RetryPolicy,
    failed: str,
    heartbeat_timeout: timedelta | None = None,
) -> bool:
    """Run `activity`; when it fails for good, log `failed` and go on (False). An activity that
    heartbeats (`heartbeat_timeout`) is retried that soon after its worker dies, not only after
    the 30 s start-to-close timeout."""
    try:
        await workflow.execute_activity(
            activity,
            arg,
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=heartbeat_timeout,
            schedule_to_close_timeout=timedelta(minutes=10),
            retry_policy=retry,
        )
    except ActivityError:
        workflow.logger.warning(failed)
        return False
    return True


async def audit(event: AuditEvent, retry: RetryPolicy) -> None:
    """Best effort: an audit entry that cannot be written is logged, never the caller's failure."""
    await best_effort(
        audit_job_event,
        event,
        task_queue=OPERATOR_QUEUE,
        retry=retry,
        failed=f"{event.job_id}: audit entry {event.action} not written",
    )
