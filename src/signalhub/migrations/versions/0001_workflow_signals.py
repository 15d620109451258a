"""workflow_signals table, per-user seq, idempotency key, row-level security

Revision ID: 0001
Revises: 0000
"""

from alembic import op

from signalhub.migrations import apply_sql

revision = "0001"
down_revision = "0000"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0001_workflow_signals.sql")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS workflow_signals, workflow_signal_seqs")
