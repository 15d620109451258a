"""DocumentProcessingWorkflow: extract, chunk, embed and store a document, telling
its user about every step.

Signals, in this order, each exactly once:
- `status_update` `{"status": "started", "message": "Document processing started"}`
- `progress` before each step, with a strictly rising `progress`
  (0.1 extract text, 0.35 chunk, 0.6 embed, 0.85 store)
- `completion` `{"result": {"status": "completed", "document_id", "text_length",
  "chunk_count"}, "message": "Document processing completed successfully"}`
- or, when a step fails, `error` `{"error": "...", "error_code": "FILE_NOT_FOUND" |
  "UNSUPPORTED_TYPE" | "EXTRACTION_ERROR" | "EMPTY_DOCUMENT" | ...}`, after which
  the workflow itself fails with an `ApplicationError` of that type.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from ..temporal import notify
from ..temporal.options import ActivityOptions

with workflow.unsafe.imports_passed_through():
    from .activities import (
        ChunkDocumentInput,
        DocumentActivities,
        EmbedChunksInput,
        ExtractTextInput,
        MarkDocumentFailedInput,
        StoreDocumentInput,
    )

STEP_OPTIONS: ActivityOptions = {
    "start_to_close_timeout": timedelta(minutes=5),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20), maximum_attempts=5
    ),
}

UNEXPECTED_ERROR = "PROCESSING_ERROR"


def _error_code(exc: BaseException) -> tuple[str, str]:
    """The user-facing (message, code) for a failed step."""
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError):
        return cause.message, cause.type or UNEXPECTED_ERROR
    return str(cause or exc), UNEXPECTED_ERROR


@workflow.defn
class DocumentProcessingWorkflow:
    # This workflow reports its own lifecycle; the opt-in lifecycle interceptor leaves it alone.
    signalhub_lifecycle_signals = False

    @workflow.run
    async def run(self, document_id: str, domain_id: str, file_path: str, user_id: str) -> dict[str, Any]:
        workflow_id = workflow.info().workflow_id
        await notify.status(user_id, "started", "Document processing started")
        try:
            await notify.progress(user_id, 0.1, "Extracting text", "Reading the document and extracting its text")
            extracted = await workflow.execute_activity_method(
                DocumentActivities.extract_text_activity,
                ExtractTextInput(document_id, domain_id, user_id, file_path, workflow_id),
                **STEP_OPTIONS,
            )
            await notify.progress(
                user_id, 0.35, "Chunking", f"Splitting {extracted.text_length} characters into chunks"
            )
            chunked = await workflow.execute_activity_method(
                DocumentActivities.chunk_document_activity, ChunkDocumentInput(document_id), **STEP_OPTIONS
            )
            await notify.progress(
                user_id, 0.6, "Generating embeddings", f"Creating vector embeddings for {chunked.chunk_count} chunks"
            )
            await workflow.execute_activity_method(
                DocumentActivities.embed_chunks_activity, EmbedChunksInput(document_id), **STEP_OPTIONS
            )
            await notify.progress(user_id, 0.85, "Storing chunks", "Storing chunks and embeddings")
            stored = await workflow.execute_activity_method(
                DocumentActivities.store_document_activity, StoreDocumentInput(document_id), **STEP_OPTIONS
            )
        except ActivityError as exc:
            message, code = _error_code(exc)
            try:
                # First, so a page that refreshes on the error signal already sees "failed".
                await workflow.execute_activity_method(
                    DocumentActivities.mark_document_failed_activity,
                    MarkDocumentFailedInput(document_id, message, code),
                    **STEP_OPTIONS,
                )
            except ActivityError as mark_failure:
                # The user must still hear about the failure.
                workflow.logger.warning("document %s not marked failed: %s", document_id, mark_failure)
            await notify.error(user_id, message, code)
            raise ApplicationError(message, type=code, non_retryable=True) from exc

        result: dict[str, Any] = {
            "status": "completed",
            "document_id": document_id,
            "text_length": stored.text_length,
            "chunk_count": stored.chunk_count,
        }
        await notify.completion(user_id, result, "Document processing completed successfully")
        return result
