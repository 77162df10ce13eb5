"""What a plain job leaves in its Temporal history: no round trip with the bot for its card (no
signal, no timer waiting for one), and few events — each event is a write to the server."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from core.domain.jobs.models import JobState
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import wait_status
from tests.support.stack import ALLOWED_USER, Stack

# A fast /exec job with a short output, measured: 18 events — three workflow task cycles, the
# execution step, one search-attribute upsert (completed), notify.job_update (the card edited
# into the result; the ledger's claim and confirm inside it), start and completion. The plain
# report is rendered in the workflow task that handles the command's result: no reporting
# activity and no workflow task for it.
MAX_EVENTS = 20


async def test_a_job_history_has_no_card_round_trip(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = ALLOWED_USER
    botapi.inject_message("/exec echo history-check", user_id=ALLOWED_USER, chat_id=chat)
    card = await botapi.wait_for(
        lambda m: m.chat_id == chat and "started" in m.plain_text and "history-check" in m.text
    )
    job_id = card.plain_text.split()[1]
    await wait_status(client, job_id, JobState.completed)

    events = [e async for e in client.get_workflow_handle(job_id).fetch_history_events()]
    types = [EventType.Name(e.event_type) for e in events]
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED" not in types, types
    assert "EVENT_TYPE_TIMER_STARTED" not in types, types
    # The card's message id came with the job's input: the workflow edits it directly.
    started = events[0].workflow_execution_started_event_attributes
    payloads = await client.data_converter.decode(started.input.payloads)
    assert payloads[0]["card_message_id"] == card.message_id
    assert len(events) <= MAX_EVENTS, types
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["execution.run", "notify.job_update"], scheduled
