"""Heartbeat activities: every side effect of a heartbeat run (the workflow only decides).

- `heartbeat.prepare` — the target's effective settings and state, the guards' inputs, the
  context for the metadata preamble (read only, but for creating a missing HEARTBEAT.md from
  its template). A target with nothing to watch is told so after one visibility count
  (`idle`), and its run ends there.
- `heartbeat.validate_chat` — getChat for a group target, cached for an hour in the database.
- `heartbeat.resolve_prompt` — HEARTBEAT.md (created from the template when missing, re-read
  every run) → template → inline → HEARTBEAT_DEFAULT_PROMPT.
- `heartbeat.find_duplicates` — which results this target was already shown within the
  duplicate window (decision 036), by the injectable clock.
- `heartbeat.record_run` — the heartbeat log, the target's run state, and what it was shown.
- `heartbeat.pause_schedule` — Temporal's own pause, with a note, and one message saying how to
  resume.
- `heartbeat.follow_up` — `trigger_response`: a follow-up job with the result as its context.

Job changes (`changes.py`), the LLM agent (`agent.py`) and the built-in trigger workflow's
digest (`digest.py`) have modules of their own in this package; `deps.py` is what they share.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio import activity

from activities.heartbeat.changes import FIRST_LOOKBACK, VISIBILITY_MARGIN
from activities.heartbeat.deps import HeartbeatDeps
from activities.heartbeat.jobs import start_follow_up_job
from activities.notify import temporal_errors
from core.domain.heartbeat.config import HeartbeatConfig, resolve
from core.domain.heartbeat.duplicates import DUPLICATE_WINDOW
from core.domain.heartbeat.guards import (
    busy_reason,
    pending_intake_question,
    validation_state,
)
from core.domain.heartbeat.messages import paused_notice
from core.domain.heartbeat.models import (
    DuplicateCheck,
    DuplicateVerdict,
    FollowUpRequest,
    HeartbeatPlan,
    PauseRequest,
    RecordResult,
    RunRecord,
    ValidationResult,
)
from core.domain.heartbeat.prompt import PromptResolution, RunDigest, choose_prompt
from core.domain.heartbeat.repetition import is_repeating
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.heartbeat.triggers import trigger_workflow
from core.domain.jobs.queries import chat_jobs_query, closed_since
from core.io.heartbeat.defaults import default_checklist_template
from core.io.heartbeat.store import overrides_of
from core.io.metrics import HEARTBEAT_IDLE_TICKS, HEARTBEAT_RUNS
from core.io.store import ChatStore
from core.io.tables import ConversationTurn
from core.io.workspace import FileMissing, Workspace, WorkspaceError

Clock = Callable[[], datetime]
# A `/heartbeat fire` that no run picked up within this long is stale.
FIRE_REQUEST_TTL = timedelta(minutes=5)


def target_name(chat_title: str, target: HeartbeatTarget) -> str:
    name = chat_title or ("private chat" if not target.is_group else "group")
    name += f" ({target.chat_id})"
    return name + (f", topic {target.topic_id}" if target.topic_id is not None else "")


class HeartbeatActivities:
    def __init__(self, deps: HeartbeatDeps) -> None:
        self.deps = deps
        self.store = deps.store
        self.chats = ChatStore(deps.db)

    # --- prepare -----------------------------------------------------------------------------
    @activity.defn(name="heartbeat.prepare")
    async def prepare(self, target: HeartbeatTarget) -> HeartbeatPlan:
        row = await self.store.get(target)
        if row is None:
            return HeartbeatPlan(target=target, exists=False)
        now = self.deps.clock()
        config = resolve(self.deps.defaults(), overrides_of(row), enabled=row.enabled)
        chat = await self.chats.get(target.chat_id)
        plan: dict[str, Any] = {
            "target": target,
            "config": config,
            "target_name": target_name(chat.title if chat else "", target),
            "run_number": row.run_count + 1,
            "last_run_at": row.last_run_at,
            "last_executed_at": row.last_executed_at,
            "llm_available": self.deps.settings.llm_enabled,
            "no_llm_notice_sent": row.no_llm_notice_sent,
            "consecutive_failures": row.consecutive_failures,
            "changes_since": row.changes_checked_until,
        }
        plan["fired"] = await self.store.take_fire_request(target, now - FIRE_REQUEST_TTL)
        if not plan["fired"]:
            idle = await self._nothing_to_watch(target, config, row, now)
            if idle is not None:
                HEARTBEAT_IDLE_TICKS.inc()
                return HeartbeatPlan(target=target, config=config, idle=True, idle_note=idle)
        plan["busy_reason"] = busy_reason(
            now,
            chat.last_activity_at if chat else None,
            config.cooldown_minutes,
            await self._pending_question(target.chat_id),
        )
        if chat is not None:
            plan["last_user_message_at"] = chat.last_activity_at
            if row.message_count_at_last_run is not None:
                plan["messages_since_last_run"] = max(
                    chat.message_count - row.message_count_at_last_run, 0
                )
        if target.is_group:
            state = validation_state(now, row.validated_at, row.chat_valid)
            plan["needs_validation"] = state == "expired"
            if state == "unreachable":
                plan["unreachable_reason"] = row.validation_error or "the bot cannot reach it"
        if target.topic_id is None:
            plan["topic_targets"] = [
                r.topic_id
                for r in await self.store.for_chat(target.chat_id)
                if r.topic_id is not None and r.enabled
            ]
        trigger = trigger_workflow(config.workflow_id) if config.workflow_id else None
        if trigger is not None:
            plan["trigger_workflow_type"] = trigger.workflow_type
            plan["trigger_task_queue"] = trigger.task_queue
        await self._history(target, config, plan)
        return HeartbeatPlan.model_validate(plan)

    async def _nothing_to_watch(
        self, target: HeartbeatTarget, config: HeartbeatConfig, row: Any, now: datetime
    ) -> str | None:
        """No trigger workflow, no checklist or prompt with something to follow, and no job of
        the chat running or closed since the last check (one visibility count): a run would
        find nothing to say. A topic's jobs are counted with their chat's (never idle wrongly).
        None when there is something to watch, else a note ("" or what the check did)."""
        if config.workflow_id:
            return None
        prompt = await self.resolve_prompt(HeartbeatPlan(target=target, config=config))
        if prompt.runnable:
            return None
        since = (row.changes_checked_until or now - FIRST_LOOKBACK) - VISIBILITY_MARGIN
        query = chat_jobs_query(
            target.chat_id, f"ExecutionStatus = 'Running' OR {closed_since(since)}"
        )
        if (await self.deps.client.count_workflows(query)).count:
            return None
        return "; ".join(prompt.notes) if prompt.created else ""

    async def _history(
        self, target: HeartbeatTarget, config: HeartbeatConfig, plan: dict[str, Any]
    ) -> None:
        recent = await self.store.recent_runs(target, limit=3)
        plan["recent_runs"] = [
            RunDigest(
                at=r.started_at,
                outcome=r.outcome,
                reason=r.reason[:200],
                result=r.result[:300],
                tool_calls=r.tool_calls,
            )
            for r in recent
        ]
        agent_runs = await self.store.agent_runs(target, limit=3)
        if agent_runs:
            last = agent_runs[0]
            plan["previous_result"] = (
                f"(nothing to report: you replied {config.ack_token})"
                if last.outcome == "suppressed"
                else last.result
            )
        oldest_first: list[str | None] = [
            None if r.outcome == "suppressed" else r.result for r in reversed(agent_runs)
        ]
        if config.repetition_detection and is_repeating(oldest_first, config.repetition_threshold):
            plan["repetition_results"] = [r or "" for r in oldest_first]

    async def _pending_question(self, chat_id: int) -> datetime | None:
        async with self.deps.db.session() as session:
            turn = await session.scalar(
                select(ConversationTurn)
                .where(ConversationTurn.chat_id == chat_id)
                .order_by(ConversationTurn.id.desc())
                .limit(1)
            )
        if turn is None:
            return None
        return pending_intake_question(turn.role, turn.content, turn.at)

    # --- validation --------------------------------------------------------------------------
    @activity.defn(name="heartbeat.validate_chat")
    async def validate_chat(self, target: HeartbeatTarget) -> ValidationResult:
        row = await self.store.get(target)
        now = self.deps.clock()
        if row is not None:
            state = validation_state(now, row.validated_at, row.chat_valid)
            if state != "expired":  # another run checked meanwhile
                return ValidationResult(
                    ok=state == "reachable", reason=row.validation_error, cached=True
                )
        with temporal_errors():
            ok, reason = await self.deps.chat_validator().check(target.chat_id)
        await self.store.save_validation(target, ok, reason, now)
        activity.logger.info("heartbeat %s: getChat says %s", target.schedule_id, ok or reason)
        return ValidationResult(ok=ok, reason=reason)

    # --- the prompt --------------------------------------------------------------------------
    @activity.defn(name="heartbeat.resolve_prompt")
    async def resolve_prompt(self, plan: HeartbeatPlan) -> PromptResolution:
        config, target = plan.config, plan.target
        file_text: str | None = None
        created = False
        notes: list[str] = []
        if config.workspace_file_path:
            try:
                with Workspace.open(
                    self.deps.settings.workspaces_dir, target.workspace_folder
                ) as workspace:
                    try:
                        # Read beneath the chat folder's handle: a link (a command may plant
                        # one to a host file) is refused, never read into the prompt.
                        file_text = workspace.read_text(config.workspace_file_path)[:20_000]
                    except FileMissing:
                        workspace.write_text(
                            config.workspace_file_path, default_checklist_template()
                        )
                        created = True
            except (WorkspaceError, OSError) as exc:
                notes.append(f"workspace file unusable: {exc}")
        template_text = None
        if config.prompt_template_id:
            # Only this chat's own templates and the ones the owner shared.
            template_text = await self.store.get_template(
                config.prompt_template_id, chat_id=target.chat_id
            )
        resolution = choose_prompt(
            file_path=config.workspace_file_path if not notes else "",
            file_text=file_text,
            file_created=created,
            template_id=config.prompt_template_id,
            template_text=template_text,
            inline=config.prompt,
            default=config.default_prompt,
        )
        return resolution.model_copy(update={"notes": notes + resolution.notes})

    # --- duplicate alerts --------------------------------------------------------------------
    @activity.defn(name="heartbeat.find_duplicates")
    async def find_duplicates(self, check: DuplicateCheck) -> DuplicateVerdict:
        since = self.deps.clock() - DUPLICATE_WINDOW
        return DuplicateVerdict(
            delivered_at=await self.store.delivered_since(check.target, check.texts, since)
        )

    # --- the log -----------------------------------------------------------------------------
    @activity.defn(name="heartbeat.record_run")
    async def record_run(self, record: RunRecord) -> RecordResult:
        chat = await self.chats.get(record.target.chat_id)
        if record.delivered:  # before the run row: a retry of this activity records it again
            await self.store.record_deliveries(record.target, record.delivered, self.deps.clock())
        result = await self.store.record_run(record, chat.message_count if chat else None)
        HEARTBEAT_RUNS.labels(record.outcome).inc()
        log = activity.logger.warning if record.outcome == "failed" else activity.logger.info
        log(
            "heartbeat %s run %d: %s — %s",
            record.target.schedule_id,
            result.run_number,
            record.outcome,
            record.reason[:300],
        )
        return result

    # --- pause after repeated failures -------------------------------------------------------
    @activity.defn(name="heartbeat.pause_schedule")
    async def pause_schedule(self, request: PauseRequest) -> bool:
        """Pause the target's schedule (Temporal's pause, with a note) and tell the chat once.
        Returns whether the chat was told by this call."""
        target = request.target
        note = (
            f"paused by the heartbeat after {request.failures} failed runs in a row; last "
            f"error: {request.last_error[:300]}. Resume: /heartbeat on, or "
            f"temporal schedule toggle --unpause -s {target.schedule_id} --reason fixed"
        )
        await self.deps.client.get_schedule_handle(target.schedule_id).pause(note=note)
        if not await self.store.claim_paused_notice(target):
            return False
        try:
            await self.deps.sender.send(paused_notice(target, request.failures, request.last_error))
        except Exception as exc:  # the pause stands; the note on the schedule says why
            activity.logger.warning(
                "heartbeat %s: pause notice not sent: %s", target.schedule_id, exc
            )
            return False
        return True

    # --- trigger_response --------------------------------------------------------------------
    @activity.defn(name="heartbeat.follow_up")
    async def follow_up(self, request: FollowUpRequest) -> str:
        """Start a follow-up job whose goal carries the heartbeat's result (its card and result
        reach the target's chat through the job's own push)."""

        return await start_follow_up_job(self.deps, request)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.prepare,
            self.validate_chat,
            self.resolve_prompt,
            self.find_duplicates,
            self.record_run,
            self.pause_schedule,
            self.follow_up,
        ]
