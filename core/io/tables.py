"""What the operator keeps outside Temporal (SQLAlchemy 2 models).

Temporal holds job state; this database holds what Temporal cannot: which chats exist and when
their person last spoke, what each job last told its chat (the report ledger), and an audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Chat(Base):
    __tablename__ = "chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_type: Mapped[str] = mapped_column(String(32), default="private")
    title: Mapped[str] = mapped_column(String(255), default="")
    last_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportLedger(Base):
    """`last_reported_status` per job, shared by the job's own push and the heartbeat.

    A sender first *claims* a status (compare-and-set with a short lease), sends, then
    *confirms*. Two senders never both send the same status while a claim is live; a crash
    between send and confirm lets the lease expire, so the change is repeated, never lost.
    """

    __tablename__ = "report_ledger"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    last_reported_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claim_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Who holds the claim: a retry of the same send (same owner) takes it back at once.
    claim_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # How many Bot API calls of one owner's message for one status were delivered (`parts_key`
    # names the owner and the status): its retry resumes after them, even when the attempt
    # that sent them failed before its heartbeat reached the server.
    parts_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The message that shows the told status (its first), so a retry that finds the status
    # already told still knows where the job's summary goes.
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The job's model summary, added to its result once: None (not yet), `sending <owner>`
    # (an attempt under way; found by another attempt after a crash), `added` or `skipped`.
    summary: Mapped[str | None] = mapped_column(String(300), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupCall(Base):
    """A Bot API call that put a message or an edit into a group, by any of this bot's processes:
    the group's minute (Telegram allows 20) counted across processes, so a live card's refresh
    (low priority) can leave the room to the bot's replies and the workers' results. Rows older
    than a few minutes are deleted as new ones come."""

    __tablename__ = "group_calls"
    __table_args__ = (Index("ix_group_calls_chat_id_at", "chat_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    # The job (or recurring job) an entry is about, so `/job <id>` can show its history.
    job_id: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)


class ConversationTurn(Base):
    """A small per-chat memory for LLM intake: the last few turns and the job ids they named."""

    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text, default="")
    job_ids: Mapped[str] = mapped_column(String(500), default="")  # comma-separated
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class HeartbeatTargetRow(Base):
    """One heartbeat target (a chat or a forum topic): its overrides and run state.

    The id is the target's Temporal Schedule id (`heartbeat-<chat>[-<topic>]`). Overrides are
    stored as JSON (`core.domain.heartbeat.config.HeartbeatOverrides`) and mirrored into the
    schedule.
    """

    __tablename__ = "heartbeat_targets"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    topic_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="command")  # auto|command|config
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    overrides: Mapped[str] = mapped_column(Text, default="{}")
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    changes_checked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message_count_at_last_run: Mapped[int | None] = mapped_column(Integer, nullable=True)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    chat_valid: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    validation_error: Mapped[str] = mapped_column(String(300), default="")
    no_llm_notice_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_notice_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    proposed_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    # `/heartbeat fire` asked for a run now: that run skips the quiet-hours and busy gates.
    fire_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HeartbeatRunRow(Base):
    """The heartbeat log: one row per run, with its outcome and why."""

    __tablename__ = "heartbeat_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target_id: Mapped[str] = mapped_column(String(80), index=True)
    run_number: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(
        String(16)
    )  # posted|duplicate|suppressed|silent|skipped|failed
    reason: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    prompt_source: Mapped[str] = mapped_column(String(32), default="")
    executed: Mapped[bool] = mapped_column(Boolean, default=False)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    llm_calls: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    tool_calls: Mapped[int] = mapped_column(Integer, default=0)
    repetition_alert: Mapped[bool] = mapped_column(Boolean, default=False)
    # Results held back because the same alert reached this target within the window.
    duplicates: Mapped[int] = mapped_column(Integer, default=0)


class HeartbeatDeliveryRow(Base):
    """What a heartbeat target was last shown, by fingerprint of the normalised text (so the
    same alert is not posted again within the duplicate window). Kept apart from the heartbeat
    log, which is pruned by count and may not reach back a whole window."""

    __tablename__ = "heartbeat_deliveries"

    target_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    excerpt: Mapped[str] = mapped_column(String(200), default="")


SHARED_TEMPLATES = 0  # the `chat_id` of templates the owner shared with every chat


class HeartbeatTemplateRow(Base):
    """Reusable heartbeat prompts (`prompt_template_id`). Each belongs to the chat that saved it
    (`chat_id`); those with `chat_id` = SHARED_TEMPLATES were shared by the owner (the CLI) and
    are offered to every chat. Telegram never uses 0 as a chat id."""

    __tablename__ = "heartbeat_templates"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
