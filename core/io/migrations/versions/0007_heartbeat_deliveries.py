"""heartbeat: what each target was shown (duplicate alerts), duplicates per run

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeat_deliveries",
        sa.Column("target_id", sa.String(80), primary_key=True),
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("excerpt", sa.String(200), nullable=False, server_default=""),
    )
    with op.batch_alter_table("heartbeat_runs") as batch:
        batch.add_column(sa.Column("duplicates", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("heartbeat_runs") as batch:
        batch.drop_column("duplicates")
    op.drop_table("heartbeat_deliveries")
