"""Documents: upload a file and have DocumentProcessingWorkflow process it for you.

`POST /api/v1/documents` (multipart, field `file`, optional `domain_id`) saves
the file under `<data dir>/uploads/<document_id>/`, starts the workflow
`doc-<document_id>` for the token's user and answers 202 at once; the
workflow's signals then arrive on the user's WebSocket and in the inbox.
The worker reads the saved file, so API and worker must share the data
directory (one machine, or a shared volume).
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..documents.extract import content_type_for, supported_extensions
from ..documents.storage import DocumentStore
from ..parsing import ascii_digits
from .deps import CurrentUser, runtime_of
from .temporal_client import temporal_client

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Room for the multipart envelope around the file when judging Content-Length.
_ENVELOPE_BYTES = 64 * 1024
_READ_SIZE = 256 * 1024


class DocumentStarted(BaseModel):
    workflow_id: str
    document_id: str
    file_name: str
    status: str = "queued"


class DocumentInfo(BaseModel):
    document_id: str
    domain_id: str
    file_name: str
    status: str
    workflow_id: str | None
    content_type: str | None
    text_length: int | None
    chunk_count: int | None
    error_code: str | None
    created_at: str


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": f"{supported_extensions()}; at most {MAX_UPLOAD_BYTES} bytes"},
                        "domain_id": {"type": "string", "default": "default", "maxLength": 255},
                    },
                }
            }
        },
    }
}


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip("._")
    return base[-120:] or "document"


async def _save(upload: UploadFile, destination) -> int:
    size = 0
    with destination.open("wb") as out:
        while chunk := await upload.read(_READ_SIZE):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise HTTPException(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    detail=f"the file is larger than {MAX_UPLOAD_BYTES} bytes",
                )
            out.write(chunk)
    return size


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentStarted,
    openapi_extra=_UPLOAD_BODY,
    responses={413: {"description": "File too large"}, 415: {"description": "Unsupported file type"},
               503: {"description": "Temporal unreachable"}},
)
async def upload_document(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Upload a document (multipart field `file`) and start processing it; returns the workflow id."""
    length = request.headers.get("content-length")
    if length and ascii_digits(length, max_length=18) and int(length) > MAX_UPLOAD_BYTES + _ENVELOPE_BYTES:
        raise HTTPException(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, detail=f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        form = await request.form(max_files=1, max_fields=4)
    except StarletteHTTPException:
        raise  # e.g. 413 from the body size limit while a chunked upload is read
    except Exception as exc:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=f"expected multipart/form-data: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail="multipart field `file` (a file) is required")
    domain_id = str(form.get("domain_id") or "default")
    if len(domain_id) > 255:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail="domain_id is longer than 255 characters")
    if content_type_for(upload.filename) is None:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"unsupported file type {upload.filename!r}; supported: {supported_extensions()}",
        )

    settings = request.app.state.settings
    document_id = str(uuid.uuid4())
    workflow_id = f"doc-{document_id}"
    folder = (settings.data_dir / "uploads" / document_id).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(upload.filename)
    documents = DocumentStore(runtime_of(request).store.pool)
    try:
        if await _save(upload, path) == 0:
            raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail="the file is empty")
        # Registered before the start, so the list shows it from the first signal on.
        await documents.register(document_id, user, domain_id, upload.filename, workflow_id)
        try:
            await _start(request, document_id, domain_id, path, user, workflow_id)
        except HTTPException as exc:
            await documents.fail(document_id, str(exc.detail), "TEMPORAL_UNAVAILABLE")
            raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        await upload.close()
    return {"workflow_id": workflow_id, "document_id": document_id, "file_name": upload.filename}


async def _start(request: Request, document_id: str, domain_id: str, path, user: uuid.UUID, workflow_id: str) -> None:
    from ..documents.workflows import DocumentProcessingWorkflow

    client = await temporal_client(request, "the document was not processed")
    try:
        await client.start_workflow(
            DocumentProcessingWorkflow.run,
            args=[document_id, domain_id, str(path), str(user)],
            id=workflow_id,
            task_queue=request.app.state.settings.temporal_task_queue,
        )
    except Exception as exc:
        request.app.state.temporal_client = None  # reconnect next time
        log.warning("starting %s failed: %s", workflow_id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="Temporal did not accept the workflow; the document was not processed. Try again later.",
        ) from None


@router.get("", response_model=DocumentList)
async def list_documents(
    request: Request, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> dict[str, Any]:
    """Your documents, newest first, with their processing status."""
    documents = await DocumentStore(runtime_of(request).store.pool).list_for_user(user, limit)
    return {"documents": [d.to_dict() for d in documents]}
