"""Documents: text extraction (plain text, Markdown, PDF), chunking, embeddings, storage.

The pure parts (`extract`, `chunking`, `embedding`) know nothing of Temporal;
`DocumentProcessingWorkflow` runs them as activities and `storage` keeps the
results in PostgreSQL (tables `documents` and `document_chunks`).
"""

from pathlib import Path

from .chunking import Chunk, chunk_text
from .embedding import Embedder, HashingEmbedder, load_embedder
from .extract import DocumentError, ExtractedText, content_type_for, extract_text

# No `.resolve()`: this package is imported inside the workflow sandbox, which forbids it
# (a module's `__file__` is absolute already).
SAMPLE_DOCUMENT = Path(__file__).parent / "sample.md"

__all__ = [
    "SAMPLE_DOCUMENT",
    "Chunk",
    "DocumentError",
    "Embedder",
    "ExtractedText",
    "HashingEmbedder",
    "chunk_text",
    "content_type_for",
    "extract_text",
    "load_embedder",
]
