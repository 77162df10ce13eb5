"""The operator's skillset as LLM tools: each a pydantic model for its arguments and a function
that does the work through the same paths as the chat commands (ownership checks, planner,
Temporal). Arguments that do not validate never reach the function: the model gets the
validation error back instead, and nothing is created.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.commands.jobs import job_command, jobs_command
from bot.commands.recovery import cancel_command
from bot.commands.status import done_command, failed_command, running_command
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.ids import new_job_id, normalize_job_id, workspace_name
from core.jobs.approval import decide_approval, schedule_approval_id
from core.jobs.client import JobActionError
from core.jobs.messages import approval_audit_detail, approval_request_text
from core.jobs.models import Approval, JobOrigin, JobSpec, ScheduleApproval, ScheduleSpec
from core.jobs.planner import PlanError
from core.jobs.schedules import ScheduleError, describe_schedule, parse_schedule
from core.messages import Button
from core.render import esc, html_to_plain, truncate_utf16
from core.settings import validate_timezone
from core.temporal import OPERATOR_QUEUE, SA_REPORT_CHAT_ID
from core.untrusted import untrusted_data
from core.workspace import WorkspaceError, read_text, resolve_inside, workspace_dir, write_text

MAX_FILE_CHARS = 4000
MAX_WRITE_CHARS = 100_000
REFUSALS = (PlanError, JobActionError, ScheduleError, LookupError, WorkspaceError, ValueError)


@dataclass
class ToolOutcome:
    for_model: str  # what the model reads as the tool's result
    replies: list[Reply] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    ok: bool = True


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(Args):
    pass


class JobRef(Args):
    job_id: str = Field(
        description="a job id (job-…) or recurring job id (jobsched-…) from the conversation "
        "or from list_jobs; never invent one",
        min_length=5,
        max_length=120,
    )


class ScheduleArgs(Args):
    every_minutes: int | None = Field(
        default=None, ge=1, le=7 * 24 * 60, description="repeat every N minutes"
    )
    cron: str | None = Field(
        default=None, description='5-field cron expression, e.g. "0 9 * * 1-5" for 9:00 weekdays'
    )
    timezone: str | None = Field(default=None, description="IANA timezone for cron, e.g. UTC")

    @model_validator(mode="after")
    def _one_schedule(self) -> ScheduleArgs:
        if self.every_minutes is not None and self.cron is not None:
            raise ValueError("give either every_minutes or cron, not both")
        if self.timezone is not None:
            validate_timezone(self.timezone)
        return self

    def schedule(self, default_timezone: str) -> ScheduleSpec | None:
        if self.every_minutes is None and self.cron is None:
            return None
        tz = self.timezone or default_timezone
        if self.cron is not None:
            # Reuse the /every parser so the model and the command accept the same cron.
            spec, _ = parse_schedule(f'cron "{self.cron}" tz={tz} x', tz)
            return spec
        return ScheduleSpec(every_seconds=(self.every_minutes or 0) * 60, timezone=tz)


class CreateJobArgs(ScheduleArgs):
    goal: str = Field(
        min_length=3, max_length=2000, description="what the person wants, in their words"
    )
    worker: str = Field(min_length=2, max_length=64, description="a worker name from list_workers")
    input: str | None = Field(
        default=None,
        max_length=8000,
        description="the worker's input: for execution the exact command line to run; for "
        "research the question (defaults to the goal)",
    )


class ListJobsArgs(Args):
    status: Literal["running", "failed", "completed", "needs_attention", "any"] = "any"
    period: Literal["today", "yesterday", "week"] = Field(
        default="today", description="for failed/completed: when they ended"
    )


class UpdateJobArgs(JobRef, ScheduleArgs):
    metadata: dict[str, str] | None = Field(
        default=None, description='labels to set on the job, e.g. {"owner": "ops"}'
    )

    @model_validator(mode="after")
    def _something(self) -> UpdateJobArgs:
        if self.metadata is None and self.every_minutes is None and self.cron is None:
            raise ValueError("nothing to update: give metadata, every_minutes or cron")
        return self


class ReadFileArgs(JobRef):
    path: str = Field(min_length=1, max_length=300, description="a path inside the job's workspace")


class WriteFileArgs(ReadFileArgs):
    content: str = Field(max_length=MAX_WRITE_CHARS)


ToolFn = Callable[["ToolContext", Any], Awaitable[ToolOutcome]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[Args]
    fn: ToolFn
    # A terminal tool's success is the answer (its replies go to the chat as they are): the
    # model is not asked again to paraphrase real state.
    terminal: bool

    def schema(self) -> dict[str, Any]:
        params = self.args.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }


@dataclass
class ToolContext:
    op: ChatServices
    msg: Incoming
    created: int = 0


def _plain(replies: list[Reply]) -> str:
    return truncate_utf16("\n".join(html_to_plain(r.text) for r in replies), 3000)


async def _owned_job(ctx: ToolContext, job_id: str) -> str:
    return await ctx.op.checked_job(ctx.msg, normalize_job_id(job_id), "a job id")


async def _job_workspace(ctx: ToolContext, job_id: str) -> Path:
    """The job's workspace folder, inside the folder of the chat the job reports to."""
    desc = await ctx.op.jobs.describe(job_id)
    chat_id = desc.typed_search_attributes.get(SA_REPORT_CHAT_ID) or ctx.msg.chat_id
    return workspace_dir(ctx.op.settings.workspaces_dir, workspace_name(chat_id, job_id))


async def _owned_schedule(ctx: ToolContext, schedule_id: str) -> str:
    info = await ctx.op.schedules.describe(schedule_id)
    if not ctx.msg.trusted and info.chat_id != ctx.msg.chat_id:
        raise ScheduleError(f"no recurring job {schedule_id} in this chat")
    return schedule_id


def _is_schedule(job_id: str) -> bool:
    return job_id.strip().lower().startswith("jobsched-")


# --- the tools ------------------------------------------------------------------------------
async def list_workers(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    lines = []
    for worker, online in await ctx.op.worker_status():
        state = "online" if online else ("offline" if online is False else "unknown")
        lines.append(
            f"- {worker.name} ({state}): {worker.description} "
            f"[capabilities: {', '.join(worker.capabilities) or '-'}; input: {worker.input_param}]"
        )
    return ToolOutcome("\n".join(lines))


async def create_job(ctx: ToolContext, args: CreateJobArgs) -> ToolOutcome:
    op, msg = ctx.op, ctx.msg
    if ctx.created >= 3:
        raise PlanError("at most three jobs per message")
    try:
        worker = op.registry.get(args.worker.lower())
    except LookupError as exc:
        raise PlanError(f"{exc}; call list_workers") from None
    if worker.name == "execution" and not args.input:
        raise PlanError("the execution worker needs `input`: the exact command line")
    work = args.input or args.goal
    schedule = args.schedule(op.settings.timezone)
    spec = op.planner.plan(
        goal=args.goal,
        steps=[(worker.name, {worker.input_param: work})],
        origin=JobOrigin.llm_intake,  # the model wrote this input, whatever the person said
        **op.origin(msg),  # type: ignore[arg-type]
    )
    ctx.created += 1
    why = f"chosen for: {truncate_utf16(args.goal, 80)}"
    if schedule is None:
        replies = await op.start_job(spec, f"the {worker.name} worker fits this request")
        if spec.approval is Approval.required:
            return ToolOutcome(
                f"proposed {spec.job_id} on {worker.name}; it waits for a person in the chat "
                "to approve it (nothing has run)",
                replies,
                [spec.job_id],
            )
        return ToolOutcome(f"started {spec.job_id} on {worker.name}", replies, [spec.job_id])
    if spec.approval is Approval.required:
        return await _propose_schedule(ctx, spec, schedule)
    schedule_id = await op.schedules.create(spec, schedule)
    await op.deps.audit.record(
        "schedule", user_id=msg.user_id, chat_id=msg.chat_id, detail=schedule_id
    )
    text = (
        f"🗓 <b>{esc(schedule_id)}</b> · {esc(describe_schedule(schedule))}\n"
        f"<i>{esc(spec.goal)}</i>\nworker: <b>{esc(worker.name)}</b> — {esc(why)}; "
        "overlapping runs are skipped.\n"
        f"Run now: /runnow {esc(schedule_id)} · stop: /unschedule {esc(schedule_id)}"
    )
    return ToolOutcome(f"created recurring job {schedule_id}", [Reply(text=text)], [schedule_id])


async def _propose_schedule(ctx: ToolContext, spec: JobSpec, schedule: ScheduleSpec) -> ToolOutcome:
    """A recurring job whose command the model wrote: created paused, shown with its command,
    and started only when a person approves it (once; each run then runs)."""
    op, msg = ctx.op, ctx.msg
    deadline = datetime.now(UTC) + timedelta(seconds=spec.approval_timeout_seconds)
    schedule_id = await op.schedules.create(spec, schedule, approval_deadline=deadline)
    template = spec.model_copy(update={"schedule_id": schedule_id})
    await op.deps.client.start_workflow(
        "ScheduleApprovalWorkflow",
        ScheduleApproval(
            schedule_id=schedule_id,
            chat_id=msg.chat_id,
            topic_id=msg.topic_id,
            requested_by=msg.user_id,
            goal=spec.goal,
            timeout_seconds=spec.approval_timeout_seconds,
            detail=approval_audit_detail(template),
        ),
        id=schedule_approval_id(schedule_id),
        task_queue=OPERATOR_QUEUE,
    )
    text = approval_request_text(template, recurring=describe_schedule(schedule))
    buttons = [
        Button(label="Approve", data=f"approve:{schedule_id}"),
        Button(label="Deny", data=f"deny:{schedule_id}"),
    ]
    return ToolOutcome(
        f"proposed recurring job {schedule_id}; it waits for a person in the chat to approve "
        "it (nothing has run)",
        [Reply(text=text, buttons=buttons)],
        [schedule_id],
    )


async def list_jobs(ctx: ToolContext, args: ListJobsArgs) -> ToolOutcome:
    op, msg = ctx.op, ctx.msg
    if args.status == "running":
        replies = await running_command(op, msg, "")
    elif args.status in ("failed", "needs_attention"):
        replies = await failed_command(op, msg, args.period)
    elif args.status == "completed":
        replies = await done_command(op, msg, args.period)
    else:
        replies = await jobs_command(op, msg, "")
    return ToolOutcome(untrusted_data(_plain(replies), "the chat's job list"), replies)


async def get_job(ctx: ToolContext, args: JobRef) -> ToolOutcome:
    if _is_schedule(args.job_id):
        info = await ctx.op.schedules.describe(await _owned_schedule(ctx, args.job_id))
        spec = ScheduleSpec(
            every_seconds=info.every_seconds, cron=info.cron, timezone=info.timezone
        )
        state = "paused" if info.paused else "active"
        text = (
            f"🗓 <b>{esc(info.schedule_id)}</b> · {state} · {esc(describe_schedule(spec))}\n"
            f"<i>{esc(info.goal)}</i>\nworker: {esc(info.worker)}"
            + (
                f"\nrecent runs: {esc(', '.join(info.recent_runs[-3:]))}"
                if info.recent_runs
                else ""
            )
        )
        return ToolOutcome(text, [Reply(text=text)], [info.schedule_id])
    job_id = await _owned_job(ctx, args.job_id)
    replies = await job_command(ctx.op, ctx.msg, job_id)
    # A job's status carries its output tail and errors: text from outside, never orders.
    return ToolOutcome(untrusted_data(_plain(replies), f"job {job_id}"), replies, [job_id])


async def update_job(ctx: ToolContext, args: UpdateJobArgs) -> ToolOutcome:
    op, msg = ctx.op, ctx.msg
    schedule = args.schedule(op.settings.timezone)
    if _is_schedule(args.job_id):
        schedule_id = await _owned_schedule(ctx, args.job_id)
        info = await op.schedules.update(schedule_id, schedule=schedule, metadata=args.metadata)
        spec = ScheduleSpec(
            every_seconds=info.every_seconds, cron=info.cron, timezone=info.timezone
        )
        text = f"🗓 <b>{esc(schedule_id)}</b> updated: {esc(describe_schedule(spec))}"
        if args.metadata:
            text += f"; metadata {esc(json.dumps(info.metadata, ensure_ascii=False))}"
        result = [Reply(text=text)]
    else:
        if schedule is not None:
            raise PlanError(f"{args.job_id} is a one-off job; only jobsched-… ids have a schedule")
        job_id = await _owned_job(ctx, args.job_id)
        merged = await op.jobs.update_metadata(job_id, args.metadata or {}, msg.user_id)
        result = [Reply(text=f"🏷 <b>{esc(job_id)}</b> metadata: {esc(merged)}", job_id=job_id)]
    await op.deps.audit.record(
        "update", user_id=msg.user_id, chat_id=msg.chat_id, detail=args.job_id
    )
    return ToolOutcome(_plain(result), result, [args.job_id])


async def cancel_job(ctx: ToolContext, args: JobRef) -> ToolOutcome:
    op, msg = ctx.op, ctx.msg
    if _is_schedule(args.job_id):
        schedule_id = await _owned_schedule(ctx, args.job_id)
        await op.schedules.pause(schedule_id, note="paused from chat (cancel)")
        text = (
            f"⏸ <b>{esc(schedule_id)}</b> is paused; no more runs. "
            f"Resume: /resume {esc(schedule_id)} · delete: /unschedule {esc(schedule_id)}"
        )
        return ToolOutcome(f"paused {schedule_id}", [Reply(text=text)], [schedule_id])
    job_id = await _owned_job(ctx, args.job_id)
    replies = await cancel_command(op, msg, job_id)
    return ToolOutcome(_plain(replies), replies, [job_id])


async def run_job_now(ctx: ToolContext, args: JobRef) -> ToolOutcome:
    op, msg = ctx.op, ctx.msg
    if _is_schedule(args.job_id):
        schedule_id = await _owned_schedule(ctx, args.job_id)
        await op.schedules.trigger(schedule_id)
        text = f"▶️ <b>{esc(schedule_id)}</b> runs now (a run still going is not doubled)."
        return ToolOutcome(f"triggered {schedule_id}", [Reply(text=text)], [schedule_id])
    job_id = await _owned_job(ctx, args.job_id)
    desc = await op.jobs.describe(job_id)
    if desc.close_time is None:
        raise JobActionError(f"{job_id} is still running; use get_job to see its progress")
    original = await op.jobs.spec_of(job_id)
    spec = original.model_copy(
        update={
            "job_id": new_job_id(),
            "schedule_id": None,
            "report_chat_id": msg.chat_id,
            "topic_id": msg.topic_id,
            "requested_by": msg.user_id,
            # Decided again, as for a new job: the owner's list may have changed since.
            "approval": decide_approval(
                original.steps, original.origin, op.registry, op.settings.execution_auto_approve
            ),
        }
    )
    ctx.created += 1
    replies = await op.start_job(spec, f"a fresh run of {job_id}")
    return ToolOutcome(f"started {spec.job_id}, a copy of {job_id}", replies, [spec.job_id])


async def read_workspace_file(ctx: ToolContext, args: ReadFileArgs) -> ToolOutcome:
    job_id = await _owned_job(ctx, args.job_id)
    base = await _job_workspace(ctx, job_id)
    text = read_text(base, args.path, max_bytes=MAX_FILE_CHARS * 4)
    body = truncate_utf16(text, MAX_FILE_CHARS)
    return ToolOutcome(untrusted_data(body, f"file {args.path} of {job_id}"), job_ids=[job_id])


async def write_workspace_file(ctx: ToolContext, args: WriteFileArgs) -> ToolOutcome:
    job_id = await _owned_job(ctx, args.job_id)
    base = await _job_workspace(ctx, job_id)
    resolve_inside(base, args.path)  # refuse escapes before anything is written
    write_text(base, args.path, args.content)
    await ctx.op.deps.audit.record(
        "write_file",
        user_id=ctx.msg.user_id,
        chat_id=ctx.msg.chat_id,
        detail=f"{job_id} {args.path}",
    )
    text = (
        f"📝 wrote <code>{esc(args.path)}</code> ({len(args.content)} characters) in {esc(job_id)}"
    )
    return ToolOutcome(f"wrote {args.path}", [Reply(text=text)], [job_id])


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("list_workers", "The workers jobs can run on, and which are online.", NoArgs,
             list_workers, terminal=False),
        Tool("create_job", "Start a job (or, with every_minutes/cron, a recurring job) on one "
             "worker. Only when the goal, the worker and any schedule are clear.", CreateJobArgs,
             create_job, terminal=True),
        Tool("list_jobs", "This chat's jobs by status, from Temporal.", ListJobsArgs, list_jobs,
             terminal=True),
        Tool("get_job", "One job's live status (or a recurring job's schedule).", JobRef, get_job,
             terminal=True),
        Tool("update_job", "Set metadata on a job, or change a recurring job's schedule or "
             "metadata.", UpdateJobArgs, update_job, terminal=True),
        Tool("cancel_job", "Cancel a running job (a recurring job is paused).", JobRef,
             cancel_job, terminal=True),
        Tool("run_job_now", "Run a recurring job now, or start a fresh copy of a finished job.",
             JobRef, run_job_now, terminal=True),
        Tool("read_workspace_file", "Read a file from a job's workspace.", ReadFileArgs,
             read_workspace_file, terminal=False),
        Tool("write_workspace_file", "Write a file into a job's workspace.", WriteFileArgs,
             write_workspace_file, terminal=True),
    )
}  # fmt: skip


def tool_schemas() -> list[dict[str, Any]]:
    return [tool.schema() for tool in TOOLS.values()]


async def invoke(ctx: ToolContext, name: str, arguments: str) -> tuple[ToolOutcome, bool]:
    """(outcome, terminal). Unknown tools, bad JSON, invalid arguments and refused actions come
    back as an error text for the model; nothing has been changed in those cases."""
    tool = TOOLS.get(name)
    if tool is None:
        return ToolOutcome(
            f"error: no tool named {name!r}; use one of {', '.join(TOOLS)}", ok=False
        ), False
    try:
        raw = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        return ToolOutcome(f"error: arguments are not valid JSON ({exc.msg})", ok=False), False
    try:
        args = tool.args.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        return ToolOutcome(f"error: invalid arguments for {name}: {problems}", ok=False), False
    try:
        outcome = await tool.fn(ctx, args)
    except REFUSALS as exc:
        return ToolOutcome(f"error: {exc}", ok=False), False
    return outcome, tool.terminal
