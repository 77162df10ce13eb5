"""chats, report ledger, audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("chat_type", sa.String(32), nullable=False, server_default="private"),
        sa.Column("title", sa.String(255), nullable=False, server_default=""),
        sa.Column("last_user_id", sa.BigInteger(), nullable=True),
        sa.Column("last_activity_at", TS, nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "report_ledger",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("last_reported_status", sa.String(32), nullable=True),
        sa.Column("reported_at", TS, nullable=True),
        sa.Column("claim_status", sa.String(32), nullable=True),
        sa.Column("claim_until", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_report_ledger_chat_id", "report_ledger", ["chat_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_index("ix_report_ledger_chat_id", "report_ledger")
    op.drop_table("report_ledger")
    op.drop_table("chats")
