"""move an older install's tables from public into signalhub's own schema

Revision ID: 0000
Revises:
"""

from signalhub.migrations import apply_sql

revision = "0000"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0000_move_from_public.sql")


def downgrade() -> None:
    pass  # the tables stay in signalhub's schema
