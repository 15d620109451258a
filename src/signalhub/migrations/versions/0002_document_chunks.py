"""documents and document_chunks (text, chunks and embeddings of processed documents)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from signalhub.migrations import apply_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("0002_document_chunks.sql")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS document_chunks, documents")
