"""workflow_signals table, per-user seq, idempotency key, row-level security

Revision ID: 0001
Revises:
"""

from alembic import op

from signalhub.migrations import read_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().exec_driver_sql(read_sql("0001_workflow_signals.sql"))


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS workflow_signals, workflow_signal_seqs")
