"""workflow_signals partitioned by month of created_at; idempotency keys in their own table

Revision ID: 0005
Revises: 0004
"""

from signalhub.migrations import apply_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0005_partition_signals.sql")


def downgrade() -> None:
    # Going back would rewrite every row into one table again; restore from a backup instead.
    raise NotImplementedError("0005 (partitioned workflow_signals) cannot be downgraded in place")
