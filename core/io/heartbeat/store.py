"""Heartbeat storage: targets (overrides + run state), the heartbeat log, prompt templates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.heartbeat.config import HeartbeatOverrides
from core.domain.heartbeat.duplicates import DUPLICATE_WINDOW, fingerprint
from core.domain.heartbeat.models import RecordResult, RunRecord
from core.domain.heartbeat.target import HeartbeatTarget
from core.io.db import Database
from core.io.store import insert_statement, utcnow
from core.io.tables import (
    SHARED_TEMPLATES,
    HeartbeatDeliveryRow,
    HeartbeatRunRow,
    HeartbeatTargetRow,
    HeartbeatTemplateRow,
)

KEEP_RUNS = 50  # the heartbeat log keeps this many runs per target


def overrides_of(row: HeartbeatTargetRow) -> HeartbeatOverrides:
    return HeartbeatOverrides.model_validate_json(row.overrides or "{}")


def target_of(row: HeartbeatTargetRow) -> HeartbeatTarget:
    return HeartbeatTarget(chat_id=row.chat_id, topic_id=row.topic_id)


class HeartbeatStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- targets -----------------------------------------------------------------------------
    async def get(self, target: HeartbeatTarget) -> HeartbeatTargetRow | None:
        async with self.db.session() as session:
            return await session.get(HeartbeatTargetRow, target.schedule_id)

    async def create(
        self,
        target: HeartbeatTarget,
        *,
        source: str,
        enabled: bool = True,
        now: datetime | None = None,
    ) -> tuple[HeartbeatTargetRow, bool]:
        """The target's row, and whether this call created it (idempotent)."""
        now = now or utcnow()
        stmt = (
            insert_statement(self.db, HeartbeatTargetRow)
            .values(
                id=target.schedule_id,
                chat_id=target.chat_id,
                topic_id=target.topic_id,
                source=source,
                enabled=enabled,
                overrides="{}",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[HeartbeatTargetRow.id])  # type: ignore[attr-defined]
        )
        async with self.db.session() as session:
            result = await session.execute(stmt)
            created = bool(result.rowcount == 1)  # type: ignore[attr-defined]
        row = await self.get(target)
        assert row is not None
        return row, created

    async def all(self) -> list[HeartbeatTargetRow]:
        async with self.db.session() as session:
            rows = await session.scalars(select(HeartbeatTargetRow).order_by(HeartbeatTargetRow.id))
            return list(rows.all())

    async def for_chat(self, chat_id: int) -> list[HeartbeatTargetRow]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(HeartbeatTargetRow).where(HeartbeatTargetRow.chat_id == chat_id)
            )
            return list(rows.all())

    async def _update(self, target: HeartbeatTarget, **values: object) -> None:
        values.setdefault("updated_at", utcnow())
        async with self.db.session() as session:
            await session.execute(
                update(HeartbeatTargetRow)
                .where(HeartbeatTargetRow.id == target.schedule_id)
                .values(**values)
            )

    async def set_overrides(self, target: HeartbeatTarget, overrides: HeartbeatOverrides) -> None:
        await self._update(target, overrides=overrides.model_dump_json(exclude_none=True))

    async def set_enabled(self, target: HeartbeatTarget, enabled: bool) -> None:
        values: dict[str, object] = {"enabled": enabled}
        if enabled:  # a person turned it (back) on: the failure streak and its notice are over
            values.update(consecutive_failures=0, paused_notice_sent=False)
        await self._update(target, **values)

    async def set_proposed_prompt(self, target: HeartbeatTarget, text: str | None) -> None:
        await self._update(target, proposed_prompt=text)

    async def save_validation(
        self, target: HeartbeatTarget, ok: bool, reason: str, now: datetime
    ) -> None:
        await self._update(
            target, validated_at=now, chat_valid=ok, validation_error=reason[:300], updated_at=now
        )

    async def request_fire(self, target: HeartbeatTarget, now: datetime) -> None:
        await self._update(target, fire_requested_at=now)

    async def take_fire_request(self, target: HeartbeatTarget, since: datetime) -> bool:
        """True once per `/heartbeat fire` asked for after `since` (compare-and-set)."""
        async with self.db.session() as session:
            result = await session.execute(
                update(HeartbeatTargetRow)
                .where(
                    HeartbeatTargetRow.id == target.schedule_id,
                    HeartbeatTargetRow.fire_requested_at >= since,
                )
                .values(fire_requested_at=None)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def claim_paused_notice(self, target: HeartbeatTarget) -> bool:
        """True for exactly one caller per pause: the chat is told once how to resume."""
        async with self.db.session() as session:
            result = await session.execute(
                update(HeartbeatTargetRow)
                .where(
                    HeartbeatTargetRow.id == target.schedule_id,
                    HeartbeatTargetRow.paused_notice_sent.is_(False),
                )
                .values(paused_notice_sent=True, enabled=False, updated_at=utcnow())
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def delete(self, target: HeartbeatTarget) -> None:
        async with self.db.session() as session:
            await session.execute(
                delete(HeartbeatRunRow).where(HeartbeatRunRow.target_id == target.schedule_id)
            )
            await session.execute(
                delete(HeartbeatDeliveryRow).where(
                    HeartbeatDeliveryRow.target_id == target.schedule_id
                )
            )
            await session.execute(
                delete(HeartbeatTargetRow).where(HeartbeatTargetRow.id == target.schedule_id)
            )

    # --- the heartbeat log -------------------------------------------------------------------
    async def record_run(self, record: RunRecord, message_count: int | None) -> RecordResult:
        target_id = record.target.schedule_id
        async with self.db.session() as session:
            row = await session.get(HeartbeatTargetRow, target_id, with_for_update=True)
            if row is None:
                return RecordResult(run_number=0, consecutive_failures=0)
            _advance(row, record, message_count)
            session.add(_log_entry(record, row.run_count))
            if row.run_count % 10 == 0:  # prune now and then, not on every run
                await _prune_runs(session, target_id)
            return RecordResult(
                run_number=row.run_count, consecutive_failures=row.consecutive_failures
            )

    async def recent_runs(self, target: HeartbeatTarget, limit: int = 10) -> list[HeartbeatRunRow]:
        """Newest first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(HeartbeatRunRow)
                .where(HeartbeatRunRow.target_id == target.schedule_id)
                .order_by(HeartbeatRunRow.id.desc())
                .limit(limit)
            )
            return list(rows.all())

    async def agent_runs(self, target: HeartbeatTarget, limit: int = 3) -> list[HeartbeatRunRow]:
        """The last runs in which the agent ran (its results feed the next run), newest first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(HeartbeatRunRow)
                .where(
                    HeartbeatRunRow.target_id == target.schedule_id,
                    HeartbeatRunRow.llm_calls > 0,
                )
                .order_by(HeartbeatRunRow.id.desc())
                .limit(limit)
            )
            return list(rows.all())

    # --- what each target was shown (duplicate alerts) --------------------------------------
    async def delivered_since(
        self, target: HeartbeatTarget, texts: list[str], since: datetime
    ) -> list[datetime | None]:
        """Per text: when the same alert (normalised) was last delivered to the target after
        `since`, or None."""
        keys = [fingerprint(text) for text in texts]
        async with self.db.session() as session:
            rows = await session.execute(
                select(HeartbeatDeliveryRow.fingerprint, HeartbeatDeliveryRow.delivered_at).where(
                    HeartbeatDeliveryRow.target_id == target.schedule_id,
                    HeartbeatDeliveryRow.fingerprint.in_(set(keys)),
                    HeartbeatDeliveryRow.delivered_at > since,
                )
            )
            found = {key: at for key, at in rows.all()}
        return [found.get(key) for key in keys]

    async def record_deliveries(
        self, target: HeartbeatTarget, texts: list[str], now: datetime
    ) -> None:
        """Remember what the target was shown (the newest time per alert), and forget what
        left the window."""
        async with self.db.session() as session:
            for text in texts:
                stmt = insert_statement(self.db, HeartbeatDeliveryRow).values(
                    target_id=target.schedule_id,
                    fingerprint=fingerprint(text),
                    delivered_at=now,
                    excerpt=text[:200],
                )
                stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
                    index_elements=[
                        HeartbeatDeliveryRow.target_id,
                        HeartbeatDeliveryRow.fingerprint,
                    ],
                    set_={"delivered_at": now, "excerpt": text[:200]},
                )
                await session.execute(stmt)
            await session.execute(
                delete(HeartbeatDeliveryRow).where(
                    HeartbeatDeliveryRow.target_id == target.schedule_id,
                    HeartbeatDeliveryRow.delivered_at <= now - DUPLICATE_WINDOW,
                )
            )

    # --- prompt templates --------------------------------------------------------------------
    # A template belongs to the chat that saved it; chat_id SHARED_TEMPLATES holds the ones the
    # owner shared. A chat sees its own and the shared ones (its own first), never another's.
    async def put_template(self, template_id: str, body: str, *, chat_id: int) -> None:
        now = utcnow()
        stmt = insert_statement(self.db, HeartbeatTemplateRow).values(
            chat_id=chat_id, id=template_id, body=body, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=[HeartbeatTemplateRow.chat_id, HeartbeatTemplateRow.id],
            set_={"body": body, "updated_at": now},
        )
        async with self.db.session() as session:
            await session.execute(stmt)

    async def get_template(self, template_id: str, *, chat_id: int) -> str | None:
        """The chat's own template, else the shared one of that id, else None."""
        async with self.db.session() as session:
            for owner in (chat_id, SHARED_TEMPLATES):
                row = await session.get(HeartbeatTemplateRow, (owner, template_id))
                if row is not None:
                    return row.body
            return None

    async def template_ids(self, chat_id: int) -> list[str]:
        """The ids a chat can use: its own and the shared ones."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(HeartbeatTemplateRow.id)
                .where(HeartbeatTemplateRow.chat_id.in_((chat_id, SHARED_TEMPLATES)))
                .distinct()
                .order_by(HeartbeatTemplateRow.id)
            )
            return list(rows.all())

    async def all_templates(self) -> list[HeartbeatTemplateRow]:
        """Every template of every chat (for the owner's CLI), shared ones first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(HeartbeatTemplateRow).order_by(
                    HeartbeatTemplateRow.chat_id != SHARED_TEMPLATES,
                    HeartbeatTemplateRow.chat_id,
                    HeartbeatTemplateRow.id,
                )
            )
            return list(rows.all())

    async def share_template(self, template_id: str, *, from_chat: int) -> bool:
        """The owner shares a chat's template: a copy of it becomes the shared one of that id
        (later edits in the chat are not shared until the owner shares again)."""
        async with self.db.session() as session:
            row = await session.get(HeartbeatTemplateRow, (from_chat, template_id))
            body = row.body if row is not None else None
        if body is None:
            return False
        await self.put_template(template_id, body, chat_id=SHARED_TEMPLATES)
        return True

    async def delete_template(self, template_id: str, *, chat_id: int) -> bool:
        async with self.db.session() as session:
            result = await session.execute(
                delete(HeartbeatTemplateRow).where(
                    HeartbeatTemplateRow.chat_id == chat_id,
                    HeartbeatTemplateRow.id == template_id,
                )
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _advance(row: HeartbeatTargetRow, record: RunRecord, message_count: int | None) -> None:
    """The target's run state after `record`: counters, the watermark, the no-LLM notice."""
    row.run_count += 1
    row.last_run_at = record.finished_at
    if record.outcome == "failed":
        row.consecutive_failures += 1
    elif record.executed:
        row.consecutive_failures = 0
    if record.executed:
        row.last_executed_at = record.started_at
        if message_count is not None:
            row.message_count_at_last_run = message_count
    if record.checked_until is not None:
        row.changes_checked_until = record.checked_until
    if record.no_llm_notice_sent:
        row.no_llm_notice_sent = True
    elif record.llm_calls > 0:
        row.no_llm_notice_sent = False  # an LLM is back; a later loss is told again
    row.updated_at = record.finished_at


def _log_entry(record: RunRecord, run_number: int) -> HeartbeatRunRow:
    return HeartbeatRunRow(
        target_id=record.target.schedule_id,
        run_number=run_number,
        workflow_id=record.workflow_id,
        started_at=record.started_at,
        finished_at=record.finished_at,
        outcome=record.outcome,
        reason=record.reason[:2000],
        result=record.result[:8000],
        prompt_source=record.prompt_source,
        executed=record.executed,
        changes=record.changes,
        llm_calls=record.llm_calls,
        tokens=record.tokens,
        tool_calls=record.tool_calls,
        repetition_alert=record.repetition_alert,
        duplicates=record.duplicates,
    )


async def _prune_runs(session: AsyncSession, target_id: str) -> None:
    """Keep the newest KEEP_RUNS log entries of a target."""
    cutoff = (
        select(HeartbeatRunRow.id)
        .where(HeartbeatRunRow.target_id == target_id)
        .order_by(HeartbeatRunRow.id.desc())
        .offset(KEEP_RUNS)
        .limit(1)
    )
    oldest_kept = (await session.execute(cutoff)).scalar()
    if oldest_kept is not None:
        await session.execute(
            delete(HeartbeatRunRow).where(
                HeartbeatRunRow.target_id == target_id, HeartbeatRunRow.id <= oldest_kept
            )
        )
