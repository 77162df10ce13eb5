"""report ledger: every claim records its owner

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_ledger") as batch:
        batch.add_column(sa.Column("claim_owner", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_ledger") as batch:
        batch.drop_column("claim_owner")
