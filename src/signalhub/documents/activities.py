"""The document steps as Temporal activities, built with the storage and embedder they use.

    steps = DocumentActivities(DocumentStore(pool), load_embedder())
    Worker(client, ..., workflows=[DocumentProcessingWorkflow], activities=steps.all())

One dataclass input and result per activity. Every step is idempotent (see
`storage`), so Temporal's retries leave the same rows as a single run. Bad
documents fail with a non-retryable `ApplicationError` whose type is the
user-facing error code (`FILE_NOT_FOUND`, `EXTRACTION_ERROR`, …).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from .chunking import DEFAULT_MAX_CHARS, DEFAULT_OVERLAP, chunk_text
from .embedding import Embedder
from .extract import DocumentError, extract_text
from .storage import DocumentOwnershipError, DocumentStore


@dataclass
class ExtractTextInput:
    document_id: str
    domain_id: str
    user_id: str
    file_path: str
    workflow_id: str | None = None


@dataclass
class ExtractTextResult:
    text_length: int
    content_type: str
    pages: int | None = None


@dataclass
class ChunkDocumentInput:
    document_id: str
    max_chars: int = DEFAULT_MAX_CHARS
    overlap: int = DEFAULT_OVERLAP


@dataclass
class ChunkDocumentResult:
    chunk_count: int


@dataclass
class EmbedChunksInput:
    document_id: str


@dataclass
class EmbedChunksResult:
    chunk_count: int
    dimensions: int
    embedder: str


@dataclass
class StoreDocumentInput:
    document_id: str


@dataclass
class StoreDocumentResult:
    document_id: str
    text_length: int
    chunk_count: int


@dataclass
class MarkDocumentFailedInput:
    document_id: str
    error: str
    error_code: str


class DocumentActivities:
    """Extract, chunk, embed, store, mark failed: each step reads and writes through one `DocumentStore`."""

    def __init__(self, documents: DocumentStore, embedder: Embedder) -> None:
        self.documents = documents
        self.embedder = embedder

    def all(self) -> Sequence[Callable[..., Any]]:
        """The bound activities, for a worker's `activities=`."""
        return [
            self.extract_text_activity,
            self.chunk_document_activity,
            self.embed_chunks_activity,
            self.store_document_activity,
            self.mark_document_failed_activity,
        ]

    @activity.defn
    async def extract_text_activity(self, input: ExtractTextInput) -> ExtractTextResult:
        """Read the file, extract its text and store it (the text stays out of workflow history)."""
        try:
            extracted = await asyncio.to_thread(extract_text, input.file_path)
        except DocumentError as exc:
            raise ApplicationError(exc.message, type=exc.code, non_retryable=True) from None
        try:
            await self.documents.save_text(
                input.document_id,
                uuid.UUID(input.user_id),
                input.domain_id,
                os.path.basename(input.file_path),
                input.workflow_id,
                extracted,
            )
        except DocumentOwnershipError as exc:
            raise ApplicationError(str(exc), type="DOCUMENT_ID_TAKEN", non_retryable=True) from None
        return ExtractTextResult(len(extracted.text), extracted.content_type, extracted.pages)

    @activity.defn
    async def chunk_document_activity(self, input: ChunkDocumentInput) -> ChunkDocumentResult:
        """Split the stored text into chunks and store them (replacing any earlier attempt's)."""
        text = await self.documents.text(input.document_id)
        chunks = chunk_text(text, input.max_chars, input.overlap)
        return ChunkDocumentResult(await self.documents.replace_chunks(input.document_id, chunks))

    @activity.defn
    async def embed_chunks_activity(self, input: EmbedChunksInput) -> EmbedChunksResult:
        """Compute an embedding for every stored chunk with this worker's embedder."""
        chunks = await self.documents.chunk_texts(input.document_id)
        vectors = await asyncio.to_thread(self.embedder.embed, [text for _, text in chunks])
        await self.documents.save_embeddings(
            input.document_id,
            self.embedder.name,
            [(index, vector) for (index, _), vector in zip(chunks, vectors, strict=True)],
        )
        return EmbedChunksResult(len(chunks), self.embedder.dimensions, self.embedder.name)

    @activity.defn
    async def store_document_activity(self, input: StoreDocumentInput) -> StoreDocumentResult:
        """Mark the document's chunks complete and searchable; returns the final counts."""
        summary = await self.documents.complete(input.document_id)
        return StoreDocumentResult(summary.id, summary.text_length or 0, summary.chunk_count or 0)

    @activity.defn
    async def mark_document_failed_activity(self, input: MarkDocumentFailedInput) -> None:
        await self.documents.fail(input.document_id, input.error, input.error_code)
