"""audit log: the job an entry is about (approval requests and decisions)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("job_id", sa.String(120), nullable=True))
        batch.create_index("ix_audit_log_job_id", ["job_id"])


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_job_id")
        batch.drop_column("job_id")
