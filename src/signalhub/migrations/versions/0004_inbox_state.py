"""inbox state: seen_at, archived_at, deleted_at, tab indexes and per-user counts

Revision ID: 0004
Revises: 0002
"""

from alembic import op

from signalhub.migrations import apply_sql

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0004_inbox_state.sql")


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS workflow_signal_counts_insert ON workflow_signals;"
        "DROP TRIGGER IF EXISTS workflow_signal_counts_update ON workflow_signals;"
        "DROP TRIGGER IF EXISTS workflow_signal_counts_delete ON workflow_signals;"
        "DROP TRIGGER IF EXISTS workflow_signal_counts_truncate ON workflow_signals;"
        "DROP FUNCTION IF EXISTS workflow_signal_counts_apply();"
        "DROP TABLE IF EXISTS workflow_signal_counts;"
        "DROP INDEX IF EXISTS idx_workflow_signals_user_live_seq, idx_workflow_signals_user_unread_seq,"
        " idx_workflow_signals_user_archived_seq;"
        "ALTER TABLE workflow_signals DROP COLUMN IF EXISTS seen_at, DROP COLUMN IF EXISTS archived_at,"
        " DROP COLUMN IF EXISTS deleted_at"
    )
