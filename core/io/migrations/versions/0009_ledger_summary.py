"""report ledger: the told message's id and the job summary's record (added once or skipped)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_ledger") as batch:
        batch.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("summary", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_ledger") as batch:
        batch.drop_column("summary")
        batch.drop_column("message_id")
