"""group calls: a group's messages and edits of the last minutes, by every process of the bot

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_calls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_group_calls_chat_id_at", "group_calls", ["chat_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_group_calls_chat_id_at", table_name="group_calls")
    op.drop_table("group_calls")
