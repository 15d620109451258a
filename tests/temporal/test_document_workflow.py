"""DocumentProcessingWorkflow on real files, through a real Temporal server, a separate
worker process, PostgreSQL and the user's WebSocket."""

from __future__ import annotations

import itertools

import pytest

from signalhub.documents import SAMPLE_DOCUMENT, chunk_text, extract_text
from signalhub.store import connect as connect_db
from tests.documents.samples import PDF_PAGES, make_pdf
from tests.support import collect_signals, connect
from tests.temporal.helpers import inbox, no_more_signals, result_of, signals_until_final, start_document

pytestmark = pytest.mark.temporal


def _write(tmp_path, kind: str):
    if kind == "pdf":
        path = tmp_path / "lighthouse.pdf"
        path.write_bytes(make_pdf(PDF_PAGES))
    elif kind == "md":
        path = tmp_path / "sample.md"
        path.write_text(SAMPLE_DOCUMENT.read_text())
    else:
        path = tmp_path / "long.txt"
        path.write_text("\n\n".join(f"Paragraph {i}. " + "The keeper wrote in the log. " * 12 for i in range(12)))
    return path


@pytest.mark.parametrize("kind", ["md", "pdf", "txt"])
async def test_user_receives_status_then_rising_progress_then_completion_once_each(
    kind, worker, temporal_client, api, token, user_id, workflow_id, tmp_path, database_url
):
    path = _write(tmp_path, kind)
    expected_text = extract_text(path).text
    expected_chunks = chunk_text(expected_text)
    ws, _ = await connect(api.ws, token(user_id))

    handle, document_id = await start_document(temporal_client, path, user_id, workflow_id)
    result = await result_of(handle)
    signals = await signals_until_final(ws)

    types = [s["signal_type"] for s in signals]
    assert types == ["status_update"] + ["progress"] * (len(types) - 2) + ["completion"]
    assert len(types) >= 5  # extract, chunk, embed, store: one progress each
    assert signals[0]["data"] == {"status": "started", "message": "Document processing started"}
    progress = [s["data"]["progress"] for s in signals[1:-1]]
    assert all(a < b for a, b in itertools.pairwise(progress)) and 0 < progress[0] and progress[-1] < 1
    assert all(s["data"]["step"] for s in signals[1:-1])
    expected_result = {
        "status": "completed",
        "document_id": document_id,
        "text_length": len(expected_text),
        "chunk_count": len(expected_chunks),
    }
    assert signals[-1]["data"] == {"result": expected_result, "message": "Document processing completed successfully"}
    assert result == expected_result
    assert {s["workflow_id"] for s in signals} == {workflow_id}
    seqs = [s["seq"] for s in signals]
    assert seqs == sorted(set(seqs))
    assert await no_more_signals(ws, 1.0)  # nothing twice
    await ws.close()

    stored = await inbox(api, token(user_id), workflow_id)
    assert [(s["id"], s["seq"], s["signal_type"], s["data"]) for s in stored] == [
        (s["id"], s["seq"], s["signal_type"], s["data"]) for s in signals
    ]

    conn = await connect_db(database_url)
    try:
        chunks = await conn.fetch(
            "SELECT content, embedding FROM document_chunks WHERE document_id = $1 ORDER BY chunk_index", document_id
        )
        document = await conn.fetchrow("SELECT status, user_id, embedder FROM documents WHERE id = $1", document_id)
    finally:
        await conn.close()
    assert [c["content"] for c in chunks] == [c.text for c in expected_chunks]
    assert all(len(c["embedding"]) == 256 for c in chunks)
    assert (document["status"], document["user_id"], document["embedder"]) == ("completed", user_id, "hashing-256")


async def test_the_five_signal_activities_accept_the_seeds_positional_arguments(
    worker, temporal_client, api, token, user_id, workflow_id
):
    ws, _ = await connect(api.ws, token(user_id))
    handle = await temporal_client.start_workflow(
        "SeedSignalsWorkflow", str(user_id), id=workflow_id, task_queue="signalhub"
    )
    await result_of(handle)
    signals = await collect_signals(ws, 5, timeout=30)
    assert [(s["signal_type"], s["data"]) for s in signals] == [
        ("status_update", {"status": "started", "message": "Document processing started"}),
        ("progress", {"progress": 0.1, "step": "Downloading document", "message": "Downloading document"}),
        ("progress", {"progress": 0.5, "step": "Generating embeddings", "message": "Creating vector embeddings"}),
        ("completion", {"result": {"status": "completed", "document_id": "doc-123", "text_length": 5000,
                                   "chunk_count": 25}, "message": "Processing completed"}),
        ("error", {"error": "Failed to extract text from document", "error_code": "EXTRACTION_ERROR"}),
    ]
    assert await no_more_signals(ws, 0.5)
    await ws.close()
