"""The built-in workflow-trigger heartbeat `job-digest`: what the chat's jobs did since the
previous run, in one message (nothing when nothing happened)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from temporalio import activity

from activities.heartbeat.deps import HeartbeatDeps
from core.domain.heartbeat.messages import HEADER
from core.domain.heartbeat.models import HeartbeatTrigger
from core.domain.jobs.queries import chat_jobs_query, closed_after, job_state, running_jobs_query
from core.domain.render import STATE_ICONS, esc, truncate_utf16
from core.domain.temporal_names import SA_JOB_STATUS

MAX_LISTED = 15


class DigestActivities:
    def __init__(self, deps: HeartbeatDeps) -> None:
        self.deps = deps

    @activity.defn(name="heartbeat.job_digest")
    async def job_digest(self, trigger: HeartbeatTrigger) -> str:
        """The digest as Telegram HTML, or "" when no job ended or runs."""
        client = self.deps.client
        since = self.deps.clock() - timedelta(minutes=trigger.interval_minutes)
        chat = trigger.target.chat_id
        ended: list[tuple[str, str, str]] = []
        async for wf in client.list_workflows(
            chat_jobs_query(chat, closed_after(since)), limit=200, page_size=200
        ):
            memo = await wf.memo()
            state = job_state(wf.typed_search_attributes.get(SA_JOB_STATUS), wf.status)
            ended.append((wf.id, state, str(memo.get("goal", ""))))
        running = (await client.count_workflows(running_jobs_query(chat))).count
        if not ended and not running:
            return ""
        counts = Counter(state for _, state, _ in ended)
        summary = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(counts.items()))
        lines = [
            f"{HEADER} · jobs in the last {trigger.interval_minutes} min: "
            + (summary or "none ended")
            + f"; {running} running"
        ]
        for job_id, state, goal in ended[:MAX_LISTED]:
            icon = STATE_ICONS.get(state, "•")
            lines.append(f"{icon} <code>{esc(job_id)}</code> {esc(truncate_utf16(goal, 80))}")
        if len(ended) > MAX_LISTED:
            lines.append(f"… and {len(ended) - MAX_LISTED} more: /jobs")
        return "\n".join(lines)
