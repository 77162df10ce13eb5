"""The intake's tools: the operator's skillset for a person in one chat. The chat tools every
caller shares (list and get jobs, workspace files) come from `core.io.llm.chat_tools`; the ones here
(workers, create / update / cancel / re-run a job) answer the person with the chat's own replies
(job cards, approval requests) and go through the same paths as the chat commands (ownership
checks, planner, Temporal). Arguments that do not validate never reach a handler: the model gets
the validation error back instead, and nothing is created (`core.io.llm.tools`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import Field, model_validator
from temporalio.client import WorkflowExecutionDescription

from bot.commands.jobs import job_command, jobs_command
from bot.commands.recovery import cancel_command
from bot.commands.status import done_command, failed_command, running_command
from bot.services import ChatServices
from bot.types import Incoming, Reply
from core.domain.ids import chat_folder, new_job_id
from core.domain.jobs.approval import decide_approval
from core.domain.jobs.messages import approval_request_text
from core.domain.jobs.models import Approval, JobOrigin, JobSpec, ScheduleSpec
from core.domain.jobs.planner import PlanError
from core.domain.messages import Button
from core.domain.render import esc, html_to_plain, truncate_utf16
from core.domain.timewindows import validate_timezone
from core.io.jobs.client import JobActionError
from core.io.jobs.schedules import ScheduleError, describe_schedule, parse_schedule
from core.io.llm.chat_tools import (
    GET_JOB,
    LIST_JOBS,
    READ_WORKSPACE_FILE,
    WRITE_WORKSPACE_FILE,
    ChatScope,
    JobRef,
    ListJobsArgs,
    is_schedule_id,
)
from core.io.llm.tools import NoArgs, Tool, ToolArgs, Toolset

MAX_JOBS_PER_MESSAGE = 3


class IntakeScope(ChatScope):
    """A person's message in one chat: what its tools reach (the chat's jobs; a trusted person's
    message reaches any chat's), and what they said back to the chat."""

    def __init__(self, op: ChatServices, msg: Incoming) -> None:
        super().__init__(msg.chat_id, op.jobs, op.settings.workspaces_dir, chat_folder(msg.chat_id))
        self.op = op
        self.msg = msg
        self.created = 0
        self.replies: list[Reply] = []
        self.job_ids: list[str] = []  # remembered with the assistant's turn ("cancel it")

    def owns(self, job_chat: int | None) -> bool:
        return self.msg.trusted or job_chat is None or job_chat == self.msg.chat_id

    def answer(
        self, for_model: str, replies: Sequence[Reply] = (), job_ids: Sequence[str] = ()
    ) -> str:
        """Record what a tool said to the chat and which ids it touched; the model's text."""
        self.replies += replies
        self.job_ids += [i for i in job_ids if i not in self.job_ids]
        return for_model

    async def owned_job(self, job_id: str) -> tuple[str, WorkflowExecutionDescription]:
        job_id, desc = await super().owned_job(job_id)
        self.answer("", job_ids=[job_id])  # a job the model looked at is one "it" may mean
        return job_id, desc

    async def owned_schedule(self, schedule_id: str) -> str:
        info = await self.op.schedules.describe(schedule_id)
        if not self.msg.trusted and info.chat_id != self.msg.chat_id:
            raise ScheduleError(f"no recurring job {schedule_id} in this chat")
        return schedule_id

    async def show_jobs(self, args: ListJobsArgs) -> str:
        op, msg = self.op, self.msg
        if args.status == "running":
            replies = await running_command(op, msg, "")
        elif args.status in ("failed", "needs_attention"):
            replies = await failed_command(op, msg, args.period)
        elif args.status == "completed":
            replies = await done_command(op, msg, args.period)
        else:
            replies = await jobs_command(op, msg, "")
        return self.answer(plain(replies), replies)

    async def show_job(self, job_id: str) -> str:
        replies = await job_command(self.op, self.msg, job_id)
        return self.answer(plain(replies), replies)

    async def show_schedule(self, schedule_id: str) -> str:
        info = await self.op.schedules.describe(await self.owned_schedule(schedule_id))
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
        return self.answer(text, [Reply(text=text)], info.schedule_id)

    async def file_written(self, where: str, path: str, chars: int) -> None:
        await self.op.deps.audit.record(
            "write_file",
            user_id=self.msg.user_id,
            chat_id=self.msg.chat_id,
            detail=f"{where} {path}",
        )
        text = f"📝 wrote <code>{esc(path)}</code> ({chars} characters) in {esc(where)}"
        self.answer("", [Reply(text=text)])


class ScheduleArgs(ToolArgs):
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


class UpdateJobArgs(JobRef, ScheduleArgs):
    metadata: dict[str, str] | None = Field(
        default=None, description='labels to set on the job, e.g. {"owner": "ops"}'
    )

    @model_validator(mode="after")
    def _something(self) -> UpdateJobArgs:
        if self.metadata is None and self.every_minutes is None and self.cron is None:
            raise ValueError("nothing to update: give metadata, every_minutes or cron")
        return self


def plain(replies: list[Reply]) -> str:
    return truncate_utf16("\n".join(html_to_plain(r.text) for r in replies), 3000)


# --- the tools ------------------------------------------------------------------------------
async def list_workers(scope: IntakeScope, args: NoArgs) -> str:
    lines = []
    for worker, online in await scope.op.worker_status():
        state = "online" if online else ("offline" if online is False else "unknown")
        lines.append(
            f"- {worker.name} ({state}): {worker.description} "
            f"[capabilities: {', '.join(worker.capabilities) or '-'}; input: {worker.input_param}]"
        )
    return scope.answer("\n".join(lines))


async def create_job(scope: IntakeScope, args: CreateJobArgs) -> str:
    op, msg = scope.op, scope.msg
    if scope.created >= MAX_JOBS_PER_MESSAGE:
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
        person_text=msg.text or "",  # the URLs the person wrote themselves need no approval
        job_id=op.job_id_for(msg, scope.created),
        **op.origin(msg),  # type: ignore[arg-type]
    )
    scope.created += 1
    why = f"chosen for: {truncate_utf16(args.goal, 80)}"
    if schedule is None:
        replies = await op.start_job(spec, f"the {worker.name} worker fits this request")
        if spec.approval is Approval.required:
            return scope.answer(
                f"proposed {spec.job_id} on {worker.name}; it waits for a person in the chat "
                "to approve it (nothing has run)",
                replies,
                [spec.job_id],
            )
        return scope.answer(f"started {spec.job_id} on {worker.name}", replies, [spec.job_id])
    if spec.approval is Approval.required:
        return await _propose_schedule(scope, spec, schedule)
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
    return scope.answer(f"created recurring job {schedule_id}", [Reply(text=text)], [schedule_id])


async def _propose_schedule(scope: IntakeScope, spec: JobSpec, schedule: ScheduleSpec) -> str:
    """A recurring job whose command the model wrote: created paused, shown with its command,
    and started only when a person approves it (once; each run then runs)."""
    op, msg = scope.op, scope.msg
    template = await op.schedules.propose(spec, schedule, msg.chat_id, msg.topic_id, msg.user_id)
    schedule_id = template.schedule_id
    assert schedule_id is not None
    text = approval_request_text(template, recurring=describe_schedule(schedule))
    buttons = [
        Button(label="Approve", data=f"approve:{schedule_id}"),
        Button(label="Deny", data=f"deny:{schedule_id}"),
    ]
    return scope.answer(
        f"proposed recurring job {schedule_id}; it waits for a person in the chat to approve "
        "it (nothing has run)",
        [Reply(text=text, buttons=buttons)],
        [schedule_id],
    )


async def update_job(scope: IntakeScope, args: UpdateJobArgs) -> str:
    op, msg = scope.op, scope.msg
    schedule = args.schedule(op.settings.timezone)
    if is_schedule_id(args.job_id):
        schedule_id = await scope.owned_schedule(args.job_id)
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
        job_id, _ = await scope.owned_job(args.job_id)
        merged = await op.jobs.update_metadata(job_id, args.metadata or {}, msg.user_id)
        result = [Reply(text=f"🏷 <b>{esc(job_id)}</b> metadata: {esc(merged)}", job_id=job_id)]
    await op.deps.audit.record(
        "update", user_id=msg.user_id, chat_id=msg.chat_id, detail=args.job_id
    )
    return scope.answer(plain(result), result, [args.job_id])


async def cancel_job(scope: IntakeScope, args: JobRef) -> str:
    op, msg = scope.op, scope.msg
    if is_schedule_id(args.job_id):
        schedule_id = await scope.owned_schedule(args.job_id)
        await op.schedules.pause(schedule_id, note="paused from chat (cancel)")
        text = (
            f"⏸ <b>{esc(schedule_id)}</b> is paused; no more runs. "
            f"Resume: /resume {esc(schedule_id)} · delete: /unschedule {esc(schedule_id)}"
        )
        return scope.answer(f"paused {schedule_id}", [Reply(text=text)], [schedule_id])
    job_id, _ = await scope.owned_job(args.job_id)
    replies = await cancel_command(op, msg, job_id)
    return scope.answer(plain(replies), replies, [job_id])


async def run_job_now(scope: IntakeScope, args: JobRef) -> str:
    op, msg = scope.op, scope.msg
    if is_schedule_id(args.job_id):
        schedule_id = await scope.owned_schedule(args.job_id)
        await op.schedules.trigger(schedule_id)
        text = f"▶️ <b>{esc(schedule_id)}</b> runs now (a run still going is not doubled)."
        return scope.answer(f"triggered {schedule_id}", [Reply(text=text)], [schedule_id])
    job_id, desc = await scope.owned_job(args.job_id)
    if desc.close_time is None:
        raise JobActionError(f"{job_id} is still running; use get_job to see its progress")
    original = await op.jobs.spec_of(job_id)
    spec = original.model_copy(
        update={
            "job_id": op.job_id_for(msg, scope.created) or new_job_id(),
            "schedule_id": None,
            "report_chat_id": msg.chat_id,
            "topic_id": msg.topic_id,
            "requested_by": msg.user_id,
            # Decided again, as for a new job: the owner's list may have changed since.
            "approval": decide_approval(
                original.steps,
                original.origin,
                op.registry,
                op.settings.execution_auto_approve,
                goal=original.goal,
                person_urls=original.person_urls,
                auto_hosts=op.settings.research_auto_approve_hosts,
            ),
        }
    )
    scope.created += 1
    replies = await op.start_job(spec, f"a fresh run of {job_id}")
    return scope.answer(f"started {spec.job_id}, a copy of {job_id}", replies, [spec.job_id])


TOOLS = Toolset[IntakeScope](
    [
        Tool("list_workers", "The workers jobs can run on, and which are online.", NoArgs,
             list_workers),
        Tool("create_job", "Start a job (or, with every_minutes/cron, a recurring job) on one "
             "worker. Only when the goal, the worker and any schedule are clear.", CreateJobArgs,
             create_job, terminal=True),
        LIST_JOBS,
        GET_JOB,
        Tool("update_job", "Set metadata on a job, or change a recurring job's schedule or "
             "metadata.", UpdateJobArgs, update_job, terminal=True),
        Tool("cancel_job", "Cancel a running job (a recurring job is paused).", JobRef,
             cancel_job, terminal=True),
        Tool("run_job_now", "Run a recurring job now, or start a fresh copy of a finished job.",
             JobRef, run_job_now, terminal=True),
        READ_WORKSPACE_FILE,
        WRITE_WORKSPACE_FILE,
    ]
)  # fmt: skip
