"""report ledger: how many of a claimed message's parts its owner has delivered

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_ledger") as batch:
        batch.add_column(sa.Column("parts_key", sa.String(300), nullable=True))
        batch.add_column(sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("report_ledger") as batch:
        batch.drop_column("parts_sent")
        batch.drop_column("parts_key")
