"""Recurring jobs as Temporal Schedules (`jobsched-…`): each schedule's action starts
`JobWorkflow` with a stored `JobSpec`. Overlap policy SKIP by default: a run that is still going
when the next is due makes Temporal skip the next, not stack it.

Everything here is visible and operable with `temporal schedule list|describe|trigger|toggle`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from croniter import croniter
from pydantic import BaseModel
from pytimeparse import parse as parse_duration
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.client import (
    ScheduleSpec as TemporalScheduleSpec,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from core.domain.errors import Refusal
from core.domain.ids import new_schedule_id
from core.domain.jobs.approval import schedule_approval_id
from core.domain.jobs.messages import approval_audit_detail
from core.domain.jobs.models import Approval, JobSpec, ScheduleApproval, ScheduleSpec
from core.domain.jobs.queries import JOB_WORKFLOW
from core.domain.spread import spread_offset
from core.domain.temporal_names import OPERATOR_QUEUE, SA_REPORT_CHAT_ID
from core.domain.timewindows import validate_timezone
from core.io.jobs.client import job_memo, search_attributes_for
from core.io.temporal import not_found_as

SCHEDULE_ID_RE = re.compile(r"^jobsched-[a-z0-9]{3,20}$")
# The note of a recurring job an LLM wrote, created paused until a person approves it.
APPROVAL_NOTE = "awaiting approval until "
MIN_INTERVAL_SECONDS = 60  # the default of SCHEDULE_MIN_INTERVAL_SECONDS
# The longest interval (a year); rarer runs are a cron expression's job. Also keeps a huge
# number (`/every 99999999999d`) from overflowing the interval's timedelta.
MAX_INTERVAL_SECONDS = 366 * 86400
MAX_SCHEDULES_LISTED = 200


class ScheduleError(Refusal, ValueError):
    """Bad schedule input or a refused operation; the message is for the person."""


class ScheduleInfo(BaseModel):
    schedule_id: str
    goal: str
    chat_id: int
    worker: str
    every_seconds: int | None
    cron: str | None
    timezone: str
    paused: bool
    note: str
    next_runs: list[str]
    recent_runs: list[str]
    metadata: dict[str, str]


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_interval(seconds: int, min_interval_seconds: int = MIN_INTERVAL_SECONDS) -> None:
    """Refuse an interval below the minimum (every run posts to the chat: a few seconds would
    flood it) or beyond a year, with the reason and what to do instead."""
    if seconds < min_interval_seconds:
        raise ScheduleError(
            f"{_duration(seconds)} is too often: recurring jobs run at most every "
            f"{_duration(min_interval_seconds)} (each run reports to this chat; the owner can "
            "change SCHEDULE_MIN_INTERVAL_SECONDS)"
        )
    if seconds > MAX_INTERVAL_SECONDS:
        raise ScheduleError(
            "that interval is longer than a year; for rare runs use a cron expression, "
            'e.g. /every cron "0 9 1 1 *" <command>'
        )


def parse_schedule(
    text: str, default_timezone: str, min_interval_seconds: int = MIN_INTERVAL_SECONDS
) -> tuple[ScheduleSpec, str]:
    """`30m rest…`, `1h30m rest…`, `cron "0 9 * * *" rest…`, optionally followed by
    `tz=Europe/Berlin`; returns the schedule and the rest (the command)."""
    text = text.strip()
    timezone = default_timezone
    cron: str | None = None
    every: int | None = None
    if text.startswith("cron "):
        match = re.match(r"cron\s+(['\"])(.+?)\1\s*(.*)$", text, re.S)
        if not match:
            raise ScheduleError('write cron schedules as: cron "0 9 * * *" <command>')
        cron, text = match.group(2).strip(), match.group(3)
        if not croniter.is_valid(cron) or len(cron.split()) != 5:
            raise ScheduleError(
                f"{cron!r} is not a valid 5-field cron expression (min hour day month weekday)"
            )
    else:
        head, _, text = text.partition(" ")
        seconds = parse_duration(head)
        if seconds is None:
            raise ScheduleError(
                f'{head!r} is not an interval; use e.g. 30s, 15m, 1h30m, 1d, or cron "0 9 * * *"'
            )
        every = int(seconds)
        check_interval(every, min_interval_seconds)
    text = text.strip()
    match = re.match(r"tz=(\S+)\s*(.*)$", text, re.S)
    if match:
        try:
            timezone = validate_timezone(match.group(1))
        except ValueError as exc:
            raise ScheduleError(str(exc)) from None
        text = match.group(2).strip()
    if not text:
        raise ScheduleError("what should run on that schedule? e.g. /every 1h df -h")
    return ScheduleSpec(every_seconds=every, cron=cron, timezone=timezone), text


def describe_schedule(schedule: ScheduleSpec) -> str:
    if schedule.cron:
        return f"cron {schedule.cron} ({schedule.timezone})"
    return f"every {_duration(schedule.every_seconds or 0)}"


# A run the server could not start on time (a busy server, many schedules due at once) starts
# late instead of being skipped without a word, up to one period late: a run is never both late
# and followed by a second run caught up for the same missed period.
MIN_CATCHUP = timedelta(minutes=1)
MAX_CATCHUP = timedelta(hours=1)


def catchup_window(schedule: ScheduleSpec, now: datetime | None = None) -> timedelta:
    """How late a run may start: the schedule's period (for cron, the gap between its next two
    fire times), kept between one minute and one hour."""
    if schedule.cron:
        times = croniter(schedule.cron, now or datetime.now(UTC))
        first, second = times.get_next(datetime), times.get_next(datetime)
        period = second - first
    else:
        period = timedelta(seconds=schedule.every_seconds or 0)
    return max(MIN_CATCHUP, min(period, MAX_CATCHUP))


def _temporal_spec(schedule: ScheduleSpec, schedule_id: str) -> TemporalScheduleSpec:
    if schedule.cron:
        return TemporalScheduleSpec(
            cron_expressions=[schedule.cron], time_zone_name=schedule.timezone
        )
    assert schedule.every_seconds
    # Each schedule fires at its own stable offset inside its interval (from its id), so many
    # `/every 1h` schedules do not all start at :00; a person who wants clock times uses cron.
    every = timedelta(seconds=schedule.every_seconds)
    return TemporalScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=every, offset=spread_offset(schedule_id, every))]
    )


def _start_action(template: JobSpec) -> ScheduleActionStartWorkflow:
    """Each run starts a job from `template`, its id the template's plus the scheduled time."""
    return ScheduleActionStartWorkflow(
        JOB_WORKFLOW,
        template,
        id=template.job_id,  # Temporal appends each run's scheduled time
        task_queue=OPERATOR_QUEUE,
        memo=job_memo(template),
        typed_search_attributes=search_attributes_for(template),
    )


def _initial_state(
    schedule: ScheduleSpec, paused: bool, approval_deadline: datetime | None
) -> ScheduleState:
    if approval_deadline is not None:
        return ScheduleState(paused=True, note=APPROVAL_NOTE + approval_deadline.isoformat())
    return ScheduleState(paused=paused, note=f"recurring job: {describe_schedule(schedule)}")


class ScheduleClient:
    def __init__(self, client: Client, min_interval_seconds: int = MIN_INTERVAL_SECONDS) -> None:
        self.client = client
        self.min_interval_seconds = min_interval_seconds

    def _check(self, schedule: ScheduleSpec) -> None:
        if schedule.every_seconds is not None:
            check_interval(schedule.every_seconds, self.min_interval_seconds)

    def handle(self, schedule_id: str) -> ScheduleHandle:
        if not SCHEDULE_ID_RE.match(schedule_id):
            raise ScheduleError(
                f"{schedule_id!r} is not a schedule id (they look like jobsched-abc123)"
            )
        return self.client.get_schedule_handle(schedule_id)

    async def create(
        self,
        spec: JobSpec,
        schedule: ScheduleSpec,
        *,
        paused: bool = False,
        approval_deadline: datetime | None = None,
    ) -> str:
        """`approval_deadline`: the job's command was written by an LLM; the schedule is created
        paused, with a note saying so, and only `approve_pending` starts it."""
        self._check(schedule)
        schedule_id = spec.schedule_id or new_schedule_id()
        template = spec.model_copy(
            update={
                "schedule_id": schedule_id,
                "job_id": "job-" + schedule_id.removeprefix("jobsched-"),
            }
        )
        try:
            await self.client.create_schedule(
                schedule_id,
                Schedule(
                    action=_start_action(template),
                    spec=_temporal_spec(schedule, schedule_id),
                    policy=SchedulePolicy(
                        overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catchup_window(schedule)
                    ),
                    state=_initial_state(schedule, paused, approval_deadline),
                ),
                memo={
                    "goal": spec.goal,
                    "chat_id": spec.report_chat_id,
                    "timezone": schedule.timezone,
                },
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(SA_REPORT_CHAT_ID, spec.report_chat_id)]
                ),
            )
        except RPCError as exc:
            raise ScheduleError(f"Temporal refused the schedule: {exc.message}") from None
        return schedule_id

    async def propose(
        self,
        spec: JobSpec,
        schedule: ScheduleSpec,
        chat_id: int,
        topic_id: int | None,
        requested_by: int | None,
    ) -> JobSpec:
        """A recurring job whose command a language model wrote: its schedule is created paused
        and a `ScheduleApprovalWorkflow` holds the one decision (or the deadline). Returns the
        schedule's job template."""
        deadline = datetime.now(UTC) + timedelta(seconds=spec.approval_timeout_seconds)
        schedule_id = await self.create(spec, schedule, approval_deadline=deadline)
        template = spec.model_copy(update={"schedule_id": schedule_id})
        await self.client.start_workflow(
            "ScheduleApprovalWorkflow",
            ScheduleApproval(
                schedule_id=schedule_id,
                chat_id=chat_id,
                topic_id=topic_id,
                requested_by=requested_by,
                goal=spec.goal,
                timeout_seconds=spec.approval_timeout_seconds,
                detail=approval_audit_detail(template),
            ),
            id=schedule_approval_id(schedule_id),
            task_queue=OPERATOR_QUEUE,
        )
        return template

    async def _describe(self, schedule_id: str) -> ScheduleDescription:
        with not_found_as(ScheduleError(f"no schedule {schedule_id}")):
            return await self.handle(schedule_id).describe()

    async def describe(self, schedule_id: str) -> ScheduleInfo:
        return await self._info(await self._describe(schedule_id))

    async def _info(self, desc: ScheduleDescription) -> ScheduleInfo:
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        spec = await self._template(action)
        tspec = desc.schedule.spec
        every = int(tspec.intervals[0].every.total_seconds()) if tspec.intervals else None
        cron = tspec.cron_expressions[0] if tspec.cron_expressions else None
        return ScheduleInfo(
            schedule_id=desc.id,
            goal=spec.goal,
            chat_id=spec.report_chat_id,
            worker=spec.main_step.worker,
            every_seconds=every,
            cron=cron,
            timezone=tspec.time_zone_name or "UTC",
            paused=desc.schedule.state.paused,
            note=desc.schedule.state.note or "",
            next_runs=[t.isoformat() for t in desc.info.next_action_times[:3]],
            recent_runs=[
                a.action.workflow_id
                for a in desc.info.recent_actions[-3:]
                if hasattr(a.action, "workflow_id")
            ],
            metadata=dict(spec.metadata),
        )

    async def _template(self, action: ScheduleActionStartWorkflow) -> JobSpec:
        payloads = action.args
        values = await self.client.data_converter.decode(list(payloads), [JobSpec])  # type: ignore[arg-type]
        return values[0]  # type: ignore[no-any-return]

    async def update(
        self,
        schedule_id: str,
        *,
        schedule: ScheduleSpec | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ScheduleInfo:
        """Read-modify-write through the handle (unlike `temporal schedule update`, which
        replaces the whole schedule, this keeps pause state and notes)."""
        if schedule is not None:
            self._check(schedule)
        await self._describe(schedule_id)
        client = self.client

        async def change(current: ScheduleUpdateInput) -> ScheduleUpdate:
            sched = current.description.schedule
            action = sched.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            if metadata is not None:
                spec = (await client.data_converter.decode(list(action.args), [JobSpec]))[0]  # type: ignore[arg-type]
                spec.metadata.update(metadata)
                action.args = [spec]
            if schedule is not None:
                sched.spec = _temporal_spec(schedule, schedule_id)
                sched.policy.catchup_window = catchup_window(schedule)
                sched.state.note = f"recurring job: {describe_schedule(schedule)}"
            return ScheduleUpdate(schedule=sched)

        try:
            await self.handle(schedule_id).update(change)
        except RPCError as exc:
            raise ScheduleError(f"Temporal refused the update: {exc.message}") from None
        return await self.describe(schedule_id)

    async def approve_pending(self, schedule_id: str, decided: str) -> None:
        """Approved once, at creation: the template is marked approved (each run then runs) and
        the schedule starts. Checked and changed in one read-modify-write, so a second
        decision finds nothing pending."""
        client = self.client

        async def change(current: ScheduleUpdateInput) -> ScheduleUpdate:
            sched = current.description.schedule
            if not (sched.state.note or "").startswith(APPROVAL_NOTE):
                raise ScheduleError(f"{schedule_id} is not waiting for approval")
            action = sched.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            spec = (await client.data_converter.decode(list(action.args), [JobSpec]))[0]  # type: ignore[arg-type]
            action.args = [spec.model_copy(update={"approval": Approval.approved})]
            sched.state.paused = False
            sched.state.note = f"recurring job, {decided}"
            return ScheduleUpdate(schedule=sched)

        await self._describe(schedule_id)
        try:
            await self.handle(schedule_id).update(change)
        except RPCError as exc:
            raise ScheduleError(f"Temporal refused the update: {exc.message}") from None

    async def pause(self, schedule_id: str, note: str = "paused from chat") -> None:
        await self._describe(schedule_id)
        await self.handle(schedule_id).pause(note=note)

    async def unpause(self, schedule_id: str, note: str = "resumed from chat") -> None:
        await self._describe(schedule_id)
        await self.handle(schedule_id).unpause(note=note)

    async def trigger(self, schedule_id: str) -> None:
        """Run now, whatever the schedule says (works while paused, too). Overlap policy
        still applies: a run in progress makes this a no-op (SKIP)."""
        await self._describe(schedule_id)
        await self.handle(schedule_id).trigger()

    async def delete(self, schedule_id: str) -> None:
        await self._describe(schedule_id)
        await self.handle(schedule_id).delete()

    async def list(self, chat_id: int | None = None) -> list[ScheduleInfo]:
        out: list[ScheduleInfo] = []
        async for entry in await self.client.list_schedules():
            if not entry.id.startswith("jobsched-"):
                continue
            try:
                info = await self.describe(entry.id)
            except ScheduleError:
                continue  # deleted meanwhile
            if chat_id is None or info.chat_id == chat_id:
                out.append(info)
            if len(out) >= MAX_SCHEDULES_LISTED:
                break
        return out
