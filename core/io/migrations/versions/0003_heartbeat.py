"""heartbeat targets, the heartbeat log and prompt templates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeat_targets",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("topic_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False, server_default="command"),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("overrides", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("run_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changes_checked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_count_at_last_run", sa.Integer(), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chat_valid", sa.Boolean(), nullable=True),
        sa.Column("validation_error", sa.String(300), nullable=False, server_default=""),
        sa.Column("no_llm_notice_sent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("paused_notice_sent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("proposed_prompt", sa.Text(), nullable=True),
        sa.Column("fire_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_heartbeat_targets_chat_id", "heartbeat_targets", ["chat_id"])
    op.create_table(
        "heartbeat_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("target_id", sa.String(80), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("result", sa.Text(), nullable=False, server_default=""),
        sa.Column("prompt_source", sa.String(32), nullable=False, server_default=""),
        sa.Column("executed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("changes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("llm_calls", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("tool_calls", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("repetition_alert", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_heartbeat_runs_target_id", "heartbeat_runs", ["target_id"])
    op.create_table(
        "heartbeat_templates",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("heartbeat_templates")
    op.drop_index("ix_heartbeat_runs_target_id", "heartbeat_runs")
    op.drop_table("heartbeat_runs")
    op.drop_index("ix_heartbeat_targets_chat_id", "heartbeat_targets")
    op.drop_table("heartbeat_targets")
