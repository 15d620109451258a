"""Temporal activities: the seed's five signal activities and the document steps.

The signal activities take the seed's positional arguments, e.g.
`args=[user_id, workflow_id, "started", "Document processing started"]`.

Exactly once: Temporal runs an activity at least once (a worker may die, or
the activity may fail, after the signal was stored). Each signal activity
stores its signal with the idempotency key `<workflow run id>:<activity id>`,
which is the same for every attempt of one activity and different for every
other activity, so a retry finds the stored row and delivers nothing new.

All activities use one process-wide context (signal service, document store,
embedder) that `signalhub worker` installs with `install(runtime)`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..documents.chunking import DEFAULT_MAX_CHARS, DEFAULT_OVERLAP, chunk_text
from ..documents.embedding import Embedder, load_embedder
from ..documents.extract import DocumentError, extract_text
from ..documents.storage import DocumentOwnershipError, DocumentStore
from ..signals import SignalError

# Fault injection for tests and drills: a comma-separated list of activity names
# (or `*`) whose FIRST attempt raises right after its signal was stored.
FAIL_AFTER_STORE_ENV = "SIGNALHUB_TEST_FAIL_AFTER_STORE"


@dataclass
class ActivityContext:
    service: Any  # signalhub.service.SignalService
    documents: DocumentStore
    embedder: Embedder


_context: ActivityContext | None = None
_fail_after_store = ""  # SIGNALHUB_TEST_FAIL_AFTER_STORE, set by install()


def install(runtime: Any, embedder: Embedder | None = None) -> ActivityContext:
    """Give this process's activities their signal service, database and embedder."""
    global _context, _fail_after_store
    _fail_after_store = runtime.settings.test_fail_after_store
    _context = ActivityContext(
        service=runtime.service,
        documents=DocumentStore(runtime.store.pool),
        embedder=embedder or load_embedder(runtime.settings.embedder),
    )
    return _context


def context() -> ActivityContext:
    if _context is None:
        raise RuntimeError(
            "signalhub activities are not installed in this process: run them with "
            "`signalhub worker`, or call signalhub.temporal.activities.install(runtime)"
        )
    return _context


def idempotency_key() -> str | None:
    """`<workflow run id>:<activity id>`: equal for all attempts of one activity, unique otherwise."""
    if not activity.in_activity():
        return None
    info = activity.info()
    return f"{info.workflow_run_id or info.activity_run_id}:{info.activity_id}"


def _fail_after_store_if_asked() -> None:
    names = {n.strip() for n in _fail_after_store.split(",") if n.strip()}
    if not names or not activity.in_activity():
        return
    info = activity.info()
    if info.attempt == 1 and ("*" in names or info.activity_type in names):
        raise RuntimeError(f"forced failure after store ({FAIL_AFTER_STORE_ENV}, attempt 1)")


async def _emit(user_id: str, signal_type: str, workflow_id: str, data: dict[str, Any] | None) -> dict:
    try:
        result = await context().service.emit(
            user_id, signal_type, workflow_id, data, idempotency_key=idempotency_key()
        )
    except SignalError as exc:
        # Bad input never gets better by retrying.
        raise ApplicationError(str(exc), type="INVALID_SIGNAL", non_retryable=True) from None
    _fail_after_store_if_asked()
    return {"id": str(result.signal.id), "seq": result.signal.seq, "created": result.created}


# --- The seed's five signal activities -------------------------------------------


@activity.defn
async def send_workflow_signal_activity(
    user_id: str, workflow_id: str, signal_type: str, data: dict[str, Any] | None = None
) -> dict:
    """Any signal type with its data: a seed type (validated) or a custom one such as `approval_needed`."""
    return await _emit(user_id, signal_type, workflow_id, data)


@activity.defn
async def send_status_update_activity(
    user_id: str, workflow_id: str, status: str, message: str | None = None, progress: float | None = None
) -> dict:
    data: dict[str, Any] = {"status": status, "message": message}
    if progress is not None:
        data["progress"] = progress
    return await _emit(user_id, "status_update", workflow_id, data)


@activity.defn
async def send_progress_signal_activity(
    user_id: str, workflow_id: str, progress: float, step: str | None = None, message: str | None = None
) -> dict:
    data = {"progress": progress, "step": step, "message": message if message is not None else step}
    return await _emit(user_id, "progress", workflow_id, data)


@activity.defn
async def send_completion_signal_activity(
    user_id: str, workflow_id: str, result: Any = None, message: str | None = None
) -> dict:
    return await _emit(user_id, "completion", workflow_id, {"result": result, "message": message})


@activity.defn
async def send_error_signal_activity(
    user_id: str, workflow_id: str, error: str, error_code: str | None = None
) -> dict:
    return await _emit(user_id, "error", workflow_id, {"error": error, "error_code": error_code})


SIGNAL_ACTIVITIES = [
    send_workflow_signal_activity,
    send_status_update_activity,
    send_progress_signal_activity,
    send_completion_signal_activity,
    send_error_signal_activity,
]


# --- Document steps (one dataclass input each) --------------------------------------


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


@activity.defn
async def extract_text_activity(input: ExtractTextInput) -> ExtractTextResult:
    """Read the file, extract its text and store it (the text stays out of workflow history)."""
    try:
        extracted = await asyncio.to_thread(extract_text, input.file_path)
    except DocumentError as exc:
        raise ApplicationError(exc.message, type=exc.code, non_retryable=True) from None
    try:
        await context().documents.save_text(
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
async def chunk_document_activity(input: ChunkDocumentInput) -> ChunkDocumentResult:
    """Split the stored text into chunks and store them (replacing any earlier attempt's)."""
    documents = context().documents
    text = await documents.text(input.document_id)
    chunks = chunk_text(text, input.max_chars, input.overlap)
    return ChunkDocumentResult(await documents.replace_chunks(input.document_id, chunks))


@activity.defn
async def embed_chunks_activity(input: EmbedChunksInput) -> EmbedChunksResult:
    """Compute an embedding for every stored chunk with the worker's embedder."""
    ctx = context()
    chunks = await ctx.documents.chunk_texts(input.document_id)
    vectors = await asyncio.to_thread(ctx.embedder.embed, [text for _, text in chunks])
    await ctx.documents.save_embeddings(
        input.document_id, ctx.embedder.name, [(index, v) for (index, _), v in zip(chunks, vectors)]
    )
    return EmbedChunksResult(len(chunks), ctx.embedder.dimensions, ctx.embedder.name)


@activity.defn
async def store_document_activity(input: StoreDocumentInput) -> StoreDocumentResult:
    """Mark the document's chunks complete and searchable; returns the final counts."""
    summary = await context().documents.complete(input.document_id)
    return StoreDocumentResult(summary.id, summary.text_length or 0, summary.chunk_count or 0)


@activity.defn
async def mark_document_failed_activity(input: MarkDocumentFailedInput) -> None:
    await context().documents.fail(input.document_id, input.error, input.error_code)


DOCUMENT_ACTIVITIES = [
    extract_text_activity,
    chunk_document_activity,
    embed_chunks_activity,
    store_document_activity,
    mark_document_failed_activity,
]
