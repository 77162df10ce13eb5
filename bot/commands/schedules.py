"""Recurring jobs: /every, /schedules, /runnow, /pause, /resume, /unschedule."""

from __future__ import annotations

from bot.command_registry import command
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.jobs.models import ScheduleSpec
from core.domain.render import esc, truncate_utf16
from core.io.jobs.schedules import ScheduleError, ScheduleInfo, describe_schedule, parse_schedule


def _line(info: ScheduleInfo) -> str:
    spec = ScheduleSpec(every_seconds=info.every_seconds, cron=info.cron, timezone=info.timezone)
    state = "⏸ paused" if info.paused else "▶️ active"
    nxt = (
        f", next {info.next_runs[0][:16].replace('T', ' ')} UTC"
        if info.next_runs and not info.paused
        else ""
    )
    return (
        f"<code>{esc(info.schedule_id)}</code> {state} · {esc(describe_schedule(spec))}{esc(nxt)}\n"
        f"   {esc(info.worker)}: {esc(truncate_utf16(info.goal, 80))}"
    )


async def _owned(op: ChatServices, msg: Incoming, args: str, usage: str) -> str:
    schedule_id = args.split()[0].strip() if args.strip() else ""
    if not schedule_id:
        raise ScheduleError(f"usage: {usage}")
    info = await op.schedules.describe(schedule_id)
    if not msg.trusted and info.chat_id != msg.chat_id:
        raise ScheduleError(f"no schedule {schedule_id} in this chat")
    return schedule_id


@command(
    "every",
    '/every <interval|cron "…"> [tz=Zone] <command>',
    "run a command on a schedule (a recurring job)",
    '/every 1h df -h   ·   /every cron "0 9 * * 1-5" tz=Europe/Berlin uptime',
)
async def every_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    if not args:
        raise ScheduleError('usage: /every 30m <command>  or  /every cron "0 9 * * *" <command>')
    schedule, command_text = parse_schedule(
        args, op.settings.timezone, op.settings.schedule_min_interval_seconds
    )
    spec = op.planner.exec_job(command_text, **op.origin(msg))
    schedule_id = await op.schedules.create(spec, schedule)
    await op.deps.audit.record(
        "schedule", user_id=msg.user_id, chat_id=msg.chat_id, detail=schedule_id
    )
    info = await op.schedules.describe(schedule_id)
    nxt = info.next_runs[0][:19].replace("T", " ") + " UTC" if info.next_runs else "—"
    return [
        Reply(
            text=f"🗓 <b>{esc(schedule_id)}</b> · {esc(describe_schedule(schedule))}\n"
            f"<i>{esc(spec.goal)}</i>\nworker: <b>execution</b>; overlapping runs are skipped.\n"
            f"next run: {esc(nxt)}. Run now: /runnow {esc(schedule_id)} · "
            f"stop: /unschedule {esc(schedule_id)}"
        )
    ]


@command("schedules", "/schedules", "recurring jobs of this chat", "/schedules")
async def schedules_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    infos = await op.schedules.list(None if msg.trusted else msg.chat_id)
    if not infos:
        return [
            Reply(
                text="No recurring jobs. Create one with a command and how often it runs, "
                "for example <code>/every 1h uptime</code>."
            )
        ]
    return [Reply(text="<b>Recurring jobs</b>\n" + "\n".join(_line(i) for i in infos))]


@command("runnow", "/runnow <schedule-id>", "run a recurring job now", "/runnow jobsched-abc123")
async def runnow_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    schedule_id = await _owned(op, msg, args, "/runnow <schedule-id>")
    await op.schedules.trigger(schedule_id)
    return [Reply(text=f"▶️ {esc(schedule_id)} triggered; the run reports here when it ends.")]


@command("pause", "/pause <schedule-id>", "pause a recurring job", "/pause jobsched-abc123")
async def pause_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    schedule_id = await _owned(op, msg, args, "/pause <schedule-id>")
    await op.schedules.pause(schedule_id, note=f"paused from chat by {msg.user_id}")
    return [Reply(text=f"⏸ {esc(schedule_id)} paused. /resume {esc(schedule_id)} to continue.")]


@command(
    "resume", "/resume <schedule-id>", "resume a paused recurring job", "/resume jobsched-abc123"
)
async def resume_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    schedule_id = await _owned(op, msg, args, "/resume <schedule-id>")
    await op.schedules.unpause(schedule_id, note=f"resumed from chat by {msg.user_id}")
    return [Reply(text=f"▶️ {esc(schedule_id)} resumed.")]


@command(
    "unschedule",
    "/unschedule <schedule-id>",
    "delete a recurring job",
    "/unschedule jobsched-abc123",
)
async def unschedule_command(op: ChatServices, msg: Incoming, args: str) -> list[Reply]:
    schedule_id = await _owned(op, msg, args, "/unschedule <schedule-id>")
    await op.schedules.delete(schedule_id)
    await op.deps.audit.record(
        "unschedule", user_id=msg.user_id, chat_id=msg.chat_id, detail=schedule_id
    )
    return [Reply(text=f"🗑 {esc(schedule_id)} deleted; runs already started finish normally.")]
