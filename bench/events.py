"""The history of one plain `/exec` job, event by event: what each of its events is for.

    .venv/bin/python bench/events.py

Runs the stack (dev server, workers, bot on the Bot API emulator), sends `/exec echo …` from a
chat as a person does, waits for the result, and prints the job's history: every event with
what it names (the activity, the search attributes upserted, the timer), a histogram by event
type, and one line

    events: N per plain /exec job (activities A, upserts U, timers T, workflow tasks W)
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench._server import temporal_dev_server
from bench.jobs import one_request
from tests.support.botapi import BotApiEmulator
from tests.support.stack import TEST_TOKEN, make_settings, running_stack

USER = 640_001
JOB_ID = re.compile(r"job-[a-z0-9]+")


def describe(event: HistoryEvent, scheduled: dict[int, str]) -> str:
    kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        name = event.activity_task_scheduled_event_attributes.activity_type.name
        scheduled[event.event_id] = name
        return f"{kind} {name}"
    for field in ("activity_task_started", "activity_task_completed", "activity_task_failed"):
        attrs = getattr(event, f"{field}_event_attributes")
        if event.HasField(f"{field}_event_attributes"):
            return f"{kind} {scheduled.get(attrs.scheduled_event_id, '?')}"
    if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        return f"{kind} {', '.join(sorted(fields.indexed_fields))}"
    if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
        timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        return f"{kind} {timeout.total_seconds():g} s"
    return kind


async def job_history(client: Client, job_id: str) -> list[str]:
    scheduled: dict[int, str] = {}
    return [
        describe(e, scheduled)
        async for e in client.get_workflow_handle(job_id).fetch_history_events()
    ]


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hbo-events-") as tmp:
        data = Path(tmp)
        async with (
            temporal_dev_server(data / "temporal.db") as (server, client),
            BotApiEmulator(token=TEST_TOKEN) as botapi,
        ):
            settings = make_settings(
                data,
                server.target,
                TELEGRAM_BASE_URL=botapi.base_url,
                TELEGRAM_ALLOWED_USER_IDS=str(USER),
            )
            async with running_stack(settings, client):
                marker = "events-bench"
                await one_request(botapi, USER, marker)
                told = [m.plain_text or "" for m in botapi.sent if m.chat_id == USER]
                job_id = next(JOB_ID.search(t).group(0) for t in told if JOB_ID.search(t))  # type: ignore[union-attr]
                # The result is shown before the job closes (its notify activity completes
                # after the send): the whole history once it has.
                await asyncio.wait_for(client.get_workflow_handle(job_id).result(), 60)
                events = await job_history(client, job_id)
    for number, event in enumerate(events, start=1):
        print(f"{number:3d}  {event}")
    print()
    for kind, count in Counter(e.split()[0] for e in events).most_common():
        print(f"{count:3d}  {kind}")
    tally = Counter(e.split()[0] for e in events)
    print(
        f"events: {len(events)} per plain /exec job (activities "
        f"{tally['ACTIVITY_TASK_SCHEDULED']}, upserts "
        f"{tally['UPSERT_WORKFLOW_SEARCH_ATTRIBUTES']}, timers {tally['TIMER_STARTED']}, "
        f"workflow tasks {tally['WORKFLOW_TASK_COMPLETED']})"
    )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    asyncio.run(main())
