"""/stats [week|month]: a chart of this chat's jobs per day by final state and the time to
their results, sent as a photo with a one-line caption.

The bot only starts `StatsWorkflow` and waits for its short answer: the figures are gathered and
the chart drawn on the reporting worker, and the photo goes out through the notify worker (the
console writes it into the data folder and prints its path).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from bot.command_registry import command
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.errors import Refusal
from core.domain.stats import StatsRequest, StatsResult, parse_period
from core.domain.temporal_names import OPERATOR_QUEUE

log = logging.getLogger(__name__)

STATS_WORKFLOW = "StatsWorkflow"
STATS_TIMEOUT = timedelta(minutes=2)


@command(
    "stats",
    "/stats [week|month]",
    "a chart of this chat's jobs per day and how fast results came",
    "/stats month",
)
async def stats_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    try:
        period = parse_period(args)
    except ValueError as exc:
        raise Refusal(f"{exc}. Example: /stats month") from None
    request = StatsRequest(
        chat_id=msg.chat_id, topic_id=msg.topic_id, period=period, timezone=op.settings.timezone
    )
    workflow_id = f"stats-{msg.chat_id}-{uuid.uuid4().hex[:8]}"
    try:
        result = await op.deps.client.execute_workflow(
            STATS_WORKFLOW,
            request,
            id=workflow_id,
            task_queue=OPERATOR_QUEUE,
            result_type=StatsResult,
            execution_timeout=STATS_TIMEOUT,
        )
    except Exception:
        log.exception("chat %s: %s failed", msg.chat_id, workflow_id)
        return [
            Reply(
                text="⚠️ The statistics could not be drawn or sent just now (the details are "
                "in the log). Try again in a moment."
            )
        ]
    log.info("chat %s: stats sent (%s, %d bytes)", msg.chat_id, result.caption, result.png_bytes)
    return []  # the photo and its caption are the answer
