"""trigger functions name their tables with signalhub's schema (any session's search_path)

Revision ID: 0007
Revises: 0006
"""

from signalhub.migrations import apply_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0007_qualified_trigger_functions.sql")


def downgrade() -> None:
    pass  # the unqualified bodies of 0004 and 0006 behave the same wherever they work
