"""open signal types: the signal_type CHECK accepts any name matching the type pattern

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from signalhub.migrations import apply_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0005_open_signal_types.sql")


def downgrade() -> None:
    # Back to the seed's four types for new rows; rows of custom types are kept
    # (NOT VALID), since a downgrade must not delete anyone's inbox.
    op.execute("ALTER TABLE workflow_signals DROP CONSTRAINT IF EXISTS workflow_signals_signal_type_check")
    op.execute(
        "ALTER TABLE workflow_signals ADD CONSTRAINT workflow_signals_signal_type_check "
        "CHECK (signal_type IN ('status_update', 'completion', 'error', 'progress')) NOT VALID"
    )
