"""workflow_signals partitioned by month of created_at; idempotency keys in their own table

Revision ID: 0006
Revises: 0005
"""

from signalhub.migrations import apply_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0006_partition_signals.sql")


def downgrade() -> None:
    # Going back would rewrite every row into one table again; restore from a backup instead.
    raise NotImplementedError("0006 (partitioned workflow_signals) cannot be downgraded in place")
