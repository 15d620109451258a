"""PostgreSQL storage for processed documents: their text, chunks and embeddings.

Every write is idempotent, so a retried activity leaves the same rows as a
single run: text is upserted, a document's chunks are replaced as a whole in
one transaction, embeddings are written per chunk.

A document id belongs to the user who first stored it; writing it as
another user raises `DocumentOwnershipError` and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..hostpool import Queries
from .chunking import Chunk
from .extract import ExtractedText


class DocumentOwnershipError(Exception):
    """The document id is already used by another user."""


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    id: str
    user_id: uuid.UUID
    domain_id: str
    file_name: str
    status: str
    workflow_id: str | None
    content_type: str | None
    text_length: int | None
    chunk_count: int | None
    error_code: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.id,
            "domain_id": self.domain_id,
            "file_name": self.file_name,
            "status": self.status,
            "workflow_id": self.workflow_id,
            "content_type": self.content_type,
            "text_length": self.text_length,
            "chunk_count": self.chunk_count,
            "error_code": self.error_code,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


_SUMMARY = (
    "id, user_id, domain_id, file_name, status, workflow_id, content_type, "
    "text_length, chunk_count, error_code, created_at"
)


class DocumentStore:
    def __init__(self, pool: Queries) -> None:
        self.pool = pool

    async def register(
        self, document_id: str, user_id: uuid.UUID, domain_id: str, file_name: str, workflow_id: str | None
    ) -> None:
        """Record an uploaded document as `queued` (nothing happens if it exists)."""
        await self.pool.execute(
            "INSERT INTO documents (id, user_id, domain_id, file_name, workflow_id) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            document_id, user_id, domain_id, file_name, workflow_id,
        )

    async def save_text(
        self,
        document_id: str,
        user_id: uuid.UUID,
        domain_id: str,
        file_name: str,
        workflow_id: str | None,
        extracted: ExtractedText,
    ) -> None:
        row = await self.pool.fetchrow(
            """
            INSERT INTO documents AS d (id, user_id, domain_id, file_name, workflow_id, content_type,
                                        text, text_length, page_count, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'extracted')
            ON CONFLICT (id) DO UPDATE SET
                domain_id = EXCLUDED.domain_id,
                workflow_id = EXCLUDED.workflow_id, content_type = EXCLUDED.content_type,
                text = EXCLUDED.text, text_length = EXCLUDED.text_length,
                page_count = EXCLUDED.page_count, status = 'extracted',
                chunk_count = NULL, embedder = NULL, error = NULL, error_code = NULL,
                updated_at = now()
            WHERE d.user_id = EXCLUDED.user_id
            RETURNING id
            """,
            document_id, user_id, domain_id, file_name, workflow_id, extracted.content_type,
            extracted.text, len(extracted.text), extracted.pages,
        )
        if row is None:
            raise DocumentOwnershipError(f"document id {document_id!r} belongs to another user")

    async def text(self, document_id: str) -> str:
        value = await self.pool.fetchval("SELECT text FROM documents WHERE id = $1", document_id)
        if value is None:
            raise LookupError(f"document {document_id!r} has no extracted text")
        return value

    async def replace_chunks(self, document_id: str, chunks: Sequence[Chunk]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM document_chunks WHERE document_id = $1", document_id)
            await conn.executemany(
                "INSERT INTO document_chunks (document_id, chunk_index, content, start_offset, end_offset) "
                "VALUES ($1, $2, $3, $4, $5)",
                [(document_id, c.index, c.text, c.start, c.end) for c in chunks],
            )
            await conn.execute(
                "UPDATE documents SET status = 'chunked', chunk_count = $2, updated_at = now() WHERE id = $1",
                document_id, len(chunks),
            )
        return len(chunks)

    async def chunk_texts(self, document_id: str) -> list[tuple[int, str]]:
        rows = await self.pool.fetch(
            "SELECT chunk_index, content FROM document_chunks WHERE document_id = $1 ORDER BY chunk_index",
            document_id,
        )
        return [(r["chunk_index"], r["content"]) for r in rows]

    async def save_embeddings(
        self, document_id: str, embedder: str, vectors: Sequence[tuple[int, Sequence[float]]]
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "UPDATE document_chunks SET embedding = $3 WHERE document_id = $1 AND chunk_index = $2",
                [(document_id, index, list(vector)) for index, vector in vectors],
            )
            await conn.execute(
                "UPDATE documents SET status = 'embedded', embedder = $2, updated_at = now() WHERE id = $1",
                document_id, embedder,
            )

    async def complete(self, document_id: str) -> DocumentSummary:
        row = await self.pool.fetchrow(
            f"""
            UPDATE documents SET status = 'completed', updated_at = now(),
                chunk_count = (SELECT count(*) FROM document_chunks c
                               WHERE c.document_id = $1 AND c.embedding IS NOT NULL)
            WHERE id = $1 RETURNING {_SUMMARY}
            """,
            document_id,
        )
        if row is None:
            raise LookupError(f"document {document_id!r} not found")
        return DocumentSummary(**dict(row))

    async def fail(self, document_id: str, error: str, error_code: str) -> None:
        await self.pool.execute(
            "UPDATE documents SET status = 'failed', error = $2, error_code = $3, updated_at = now() "
            "WHERE id = $1",
            document_id, error, error_code,
        )

    async def list_for_user(self, user_id: uuid.UUID, limit: int = 50) -> list[DocumentSummary]:
        rows = await self.pool.fetch(
            f"SELECT {_SUMMARY} FROM documents WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
            user_id, limit,
        )
        return [DocumentSummary(**dict(r)) for r in rows]
