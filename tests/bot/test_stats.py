"""/stats: a PNG chart sent with sendPhoto, its caption's figures matching the jobs that ran —
real jobs on the dev server, the report ledger, the Bot API emulator."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from temporalio.client import Client

from activities.telegram.console import ConsoleSender
from bot.commands.info import help_text
from bot.types import Incoming
from core.domain.jobs.models import JobSpec, JobState
from core.domain.messages import PhotoMessage
from core.domain.stats import JobPoint, StatsRequest, caption, parse_period, summarize
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import start_without_card, wait_status
from tests.support.stack import ALLOWED_USER, Stack
from tests.support.visibility import wait_visible

ROOT = Path(__file__).resolve().parents[2]


def job(stack: Stack, chat: int, command: str) -> JobSpec:
    spec = stack.operator.planner.plan(
        goal=f"stats test: {command}",
        steps=[("execution", {"command": command})],
        chat_id=chat,
        report=False,
    )
    return spec.model_copy(update={"needs_attention_timeout_seconds": 1})


async def told(stack: Stack, job_ids: list[str], timeout: float = 30.0) -> None:
    """Until the ledger shows each job's final state told (what /stats reads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: dict[str, str | None] = {}
    while loop.time() < deadline:
        last = await stack.runtime.ledger.last_reported(job_ids)
        if len(last) == len(job_ids) and all(
            (s or "").split("#")[0] in ("completed", "failed") for s in last.values()
        ):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not all told: {last}")


async def test_stats_sends_a_png_whose_caption_counts_this_chats_jobs(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 600_000 + uuid.uuid4().int % 100_000
    ok = [job(stack, chat, "true"), job(stack, chat, "echo fine")]
    bad = job(stack, chat, "no-such-command-hbo-stats")
    for spec in [*ok, bad]:
        await start_without_card(stack.operator, spec, "test")
    for spec in ok:
        await wait_status(client, spec.job_id, JobState.completed)
    await wait_status(client, bad.job_id, JobState.failed, timeout=30)
    closed = f"WorkflowType = 'JobWorkflow' AND ReportChatId = {chat} AND CloseTime IS NOT NULL"
    await wait_visible(client, closed, 3)
    await told(stack, [s.job_id for s in [*ok, bad]])

    botapi.inject_message("/stats", user_id=ALLOWED_USER, chat_id=chat)
    photo = await botapi.wait_for(lambda m: m.chat_id == chat and m.method == "sendPhoto", 30)

    assert photo.caption is not None
    assert photo.caption.startswith(
        "Last 7 days: 3 jobs — 2 completed, 1 failed, 0 cancelled; results told in p50 "
    ), photo.caption
    assert photo.document_content is not None and photo.document_size
    assert photo.document_size == len(photo.document_content) > 1000
    image = Image.open(io.BytesIO(photo.document_content))
    assert image.format == "PNG" and image.size == (800, 500)
    image.load()  # the whole file decodes, not just its header


async def test_stats_month_of_an_empty_chat_and_a_bad_period(
    stack: Stack, botapi: BotApiEmulator, client: Client
) -> None:
    chat = 500_000 + uuid.uuid4().int % 100_000
    replies = await stack.operator.handle(
        Incoming(user_id=ALLOWED_USER, chat_id=chat, text="/stats year")
    )
    assert len(replies) == 1 and "unknown period 'year': use week or month" in replies[0].text
    started = f"WorkflowType = 'StatsWorkflow' AND WorkflowId STARTS_WITH 'stats-{chat}-'"

    replies = await stack.operator.handle(
        Incoming(user_id=ALLOWED_USER, chat_id=chat, text="/stats month")
    )
    assert replies == []
    photo = await botapi.wait_for(
        lambda m: m.chat_id == chat and m.method == "sendPhoto" and "30 days" in (m.caption or ""),
        30,
    )
    assert photo.caption == "Last 30 days: no finished jobs in this chat."
    assert photo.document_content is not None
    assert Image.open(io.BytesIO(photo.document_content)).size == (800, 500)
    # The refused period started nothing: a count right after the refusal would pass anyway
    # (visibility lags), so count once the month's run, started after it, shows as completed.
    await wait_visible(client, f"{started} AND ExecutionStatus = 'Completed'")
    assert (await client.count_workflows(started)).count == 1


def test_help_lists_stats(stack: Stack) -> None:
    assert "/stats [week|month]" in help_text()


def test_days_are_local_and_latency_is_start_to_told() -> None:
    now = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)  # 10 March 10:30 in Tokyo
    request = StatsRequest(chat_id=1, period="week", timezone="Asia/Tokyo", now=now)
    start = now - timedelta(seconds=30)

    def point(state: str, closed: datetime, told: float | None) -> JobPoint:
        told_at = start + timedelta(seconds=told) if told is not None else None
        return JobPoint("job-x", state, start, closed, told_at)

    points = [
        point("completed", now, 1.0),
        point("completed", now, 3.0),
        point("failed", datetime(2026, 3, 9, 16, 0, tzinfo=UTC), 2.0),  # 10 March in Tokyo
        point("cancelled", datetime(2026, 3, 4, 14, 0, tzinfo=UTC), None),  # 4 March, shown
        point("failed", datetime(2026, 3, 3, 14, 0, tzinfo=UTC), 9.0),  # 3 March: outside
    ]
    summary = summarize(request, points)
    assert [d.day.day for d in summary.days] == [4, 5, 6, 7, 8, 9, 10]
    assert summary.days[-1].counts == {"completed": 2, "failed": 1, "cancelled": 0}
    assert summary.days[0].counts["cancelled"] == 1 and summary.days[0].latencies == []
    assert caption(summary) == (
        "Last 7 days: 4 jobs — 2 completed, 1 failed, 1 cancelled; "
        "results told in p50 2.0 s after the start"
    )
    assert parse_period("") == "week" and parse_period("MONTH") == "month"


async def test_console_writes_the_picture_into_the_data_folder(tmp_path: Path) -> None:
    out = io.StringIO()
    sender = ConsoleSender(out, pictures=tmp_path / "pictures")
    png = b"\x89PNG\r\n\x1a\nnot-really-but-bytes"
    await sender.send_photo(PhotoMessage(chat_id=7, png=png, caption="Last 7 days: 1 job"))
    (path,) = (tmp_path / "pictures").iterdir()
    assert path.read_bytes() == png and path.suffix == ".png"
    assert "Last 7 days: 1 job" in out.getvalue() and str(path) in out.getvalue()


def test_processes_start_without_matplotlib() -> None:
    """Drawing imports matplotlib on the first chart; starting a process (workers, bot, CLI)
    does not pay for it."""
    code = "import sys, worker_main; sys.exit('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60)
    assert done.returncode == 0
