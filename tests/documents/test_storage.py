"""Document storage in a real PostgreSQL: idempotent writes, ownership, the user's list."""

from __future__ import annotations

import uuid

import pytest

from signalhub.documents import ExtractedText, chunk_text
from signalhub.documents.storage import DocumentOwnershipError, DocumentStore
from signalhub.store import create_pool


@pytest.fixture
async def documents(database_url):
    pool = await create_pool(database_url, max_size=2)
    try:
        yield DocumentStore(pool)
    finally:
        await pool.close()


async def test_repeated_steps_leave_exactly_the_rows_of_one_run(documents, user_id):
    doc = f"doc-{uuid.uuid4()}"
    text = "Alpha beta gamma. " * 40
    chunks = chunk_text(text, 100, 20)
    for _ in range(2):  # a retried activity runs its step again
        await documents.save_text(doc, user_id, "d", "a.txt", "wf", ExtractedText(text, "text/plain"))
        await documents.replace_chunks(doc, chunks)
        stored = await documents.chunk_texts(doc)
        await documents.save_embeddings(doc, "hashing-4", [(i, [1.0, 0.0, 0.0, 0.0]) for i, _ in stored])
        summary = await documents.complete(doc)
    assert [t for _, t in stored] == [c.text for c in chunks]
    assert (summary.status, summary.text_length, summary.chunk_count) == ("completed", len(text), len(chunks))
    rows = await documents.pool.fetch("SELECT embedding FROM document_chunks WHERE document_id = $1", doc)
    assert len(rows) == len(chunks) and all(r["embedding"] == [1.0, 0.0, 0.0, 0.0] for r in rows)


async def test_a_document_id_of_another_user_is_not_overwritten(documents):
    doc, owner, intruder = f"doc-{uuid.uuid4()}", uuid.uuid4(), uuid.uuid4()
    await documents.save_text(doc, owner, "d", "mine.txt", None, ExtractedText("mine", "text/plain"))
    with pytest.raises(DocumentOwnershipError):
        await documents.save_text(doc, intruder, "d", "theirs.txt", None, ExtractedText("theirs", "text/plain"))
    assert await documents.text(doc) == "mine"


async def test_users_list_only_their_documents_newest_first_with_status(documents):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    a1, a2, b1 = (f"{name}-{uuid.uuid4()}" for name in ("a1", "a2", "b1"))
    await documents.register(a1, alice, "d", "first.md", f"doc-{a1}")
    await documents.register(a2, alice, "d", "second.md", f"doc-{a2}")
    await documents.register(b1, bob, "d", "bobs.md", f"doc-{b1}")
    await documents.fail(a1, "file not found", "FILE_NOT_FOUND")
    listed = [d.to_dict() for d in await documents.list_for_user(alice)]
    assert [(d["document_id"], d["status"], d["error_code"]) for d in listed] == [
        (a2, "queued", None),
        (a1, "failed", "FILE_NOT_FOUND"),
    ]
