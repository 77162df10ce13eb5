"""heartbeat templates belong to a chat: the primary key becomes (chat_id, id)

Templates saved before this revision have no known author (any allowed chat could have written
them), so they become shared templates (chat_id 0): every target that names one resolves what it
resolved before, and the owner reviews them with `hbo heartbeat templates` and withdraws any with
`hbo heartbeat unshare <id>`. Downgrading keeps only the shared templates: the old schema has no
owner, so a chat's own template would reach every chat.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeat_templates_by_chat",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "id"),
    )
    op.execute(
        "INSERT INTO heartbeat_templates_by_chat (chat_id, id, body, updated_at) "
        "SELECT 0, id, body, updated_at FROM heartbeat_templates"
    )
    op.drop_table("heartbeat_templates")
    op.rename_table("heartbeat_templates_by_chat", "heartbeat_templates")


def downgrade() -> None:
    op.create_table(
        "heartbeat_templates_shared",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO heartbeat_templates_shared (id, body, updated_at) "
        "SELECT id, body, updated_at FROM heartbeat_templates WHERE chat_id = 0"
    )
    op.drop_table("heartbeat_templates")
    op.rename_table("heartbeat_templates_shared", "heartbeat_templates")
