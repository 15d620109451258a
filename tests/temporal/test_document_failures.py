"""A document that cannot be processed: an error signal with its code, and a failed workflow."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from signalhub.store import connect as connect_db
from tests.support import connect
from tests.temporal.helpers import inbox, no_more_signals, result_of, signals_until_final, start_document

pytestmark = pytest.mark.temporal


@pytest.mark.parametrize(
    "name, content, code",
    [
        ("missing.txt", None, "FILE_NOT_FOUND"),
        ("corrupt.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\ntruncated", "EXTRACTION_ERROR"),
        ("latin1.txt", "Ångström".encode("latin-1"), "EXTRACTION_ERROR"),
        ("picture.png", b"\x89PNG\r\n\x1a\n", "UNSUPPORTED_TYPE"),
    ],
)
async def test_unprocessable_file_sends_an_error_signal_and_fails_the_workflow(
    name, content, code, worker, temporal_client, api, token, user_id, workflow_id, tmp_path, database_url
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    ws, _ = await connect(api.ws, token(user_id))

    handle, document_id = await start_document(temporal_client, path, user_id, workflow_id)
    with pytest.raises(WorkflowFailureError) as failed:
        await result_of(handle)
    signals = await signals_until_final(ws)

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == code and failed.value.cause.non_retryable
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    assert [s["signal_type"] for s in signals] == ["status_update", "progress", "error"]
    error = signals[-1]["data"]
    assert error["error_code"] == code
    assert error["error"] == failed.value.cause.message and error["error"]
    assert await no_more_signals(ws, 1.0)
    await ws.close()
    assert [s["signal_type"] for s in await inbox(api, token(user_id), workflow_id)] == ["status_update", "progress", "error"]

    conn = await connect_db(database_url)
    try:
        chunks = await conn.fetchval("SELECT count(*) FROM document_chunks WHERE document_id = $1", document_id)
    finally:
        await conn.close()
    assert chunks == 0
