"""Text extraction from plain text, Markdown and PDF files.

Pure apart from reading the one file it is given. Every failure is a
`DocumentError` whose `code` is one of the public error codes below; the
workflow forwards that code to the user in its `error` signal.

Guarantees:
- the content type is decided by the file name's extension; a `.pdf` is
  read with pypdf, everything else as UTF-8 text (a byte-order mark is
  dropped);
- a file that cannot be read as its type (not UTF-8, binary, a damaged or
  encrypted PDF) raises `EXTRACTION_ERROR`, never returns garbage;
- a file without any text raises `EMPTY_DOCUMENT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FILE_NOT_FOUND = "FILE_NOT_FOUND"
UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
EXTRACTION_ERROR = "EXTRACTION_ERROR"
EMPTY_DOCUMENT = "EMPTY_DOCUMENT"
FILE_TOO_LARGE = "FILE_TOO_LARGE"

CONTENT_TYPES: dict[str, str] = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".pdf": "application/pdf",
}

# Files larger than this are refused before they are read (the API's upload limit is smaller).
MAX_FILE_BYTES = 64 * 1024 * 1024


class DocumentError(Exception):
    """A document cannot be processed; `code` says why in one word."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ExtractedText:
    text: str
    content_type: str
    pages: int | None = None  # PDFs only


def content_type_for(name: str) -> str | None:
    """The content type signalhub reads for a file name, or None when unsupported."""
    return CONTENT_TYPES.get(Path(name).suffix.lower())


def supported_extensions() -> str:
    return ", ".join(sorted(CONTENT_TYPES))


def extract_text(path: str | Path) -> ExtractedText:
    """Read `path` and return its text, or raise `DocumentError`."""
    path = Path(path)
    content_type = content_type_for(path.name)
    if content_type is None:
        raise DocumentError(
            UNSUPPORTED_TYPE,
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported_extensions()}",
        )
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DocumentError(FILE_NOT_FOUND, f"not a file: {path.name}")
    except FileNotFoundError:
        raise DocumentError(FILE_NOT_FOUND, f"file not found: {path.name}") from None
    except PermissionError:
        raise DocumentError(EXTRACTION_ERROR, f"file not readable: {path.name}") from None
    if size > MAX_FILE_BYTES:
        raise DocumentError(FILE_TOO_LARGE, f"file is larger than {MAX_FILE_BYTES} bytes")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(EXTRACTION_ERROR, f"file not readable: {exc.strerror or exc}") from None

    if content_type == "application/pdf":
        text, pages = _pdf_text(raw)
    else:
        text, pages = _plain_text(raw), None
        if content_type == "text/markdown":
            text = markdown_to_text(text)
    text = _normalise(text)
    if not text.strip():
        raise DocumentError(EMPTY_DOCUMENT, "the document contains no text")
    return ExtractedText(text=text, content_type=content_type, pages=pages)


def _plain_text(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise DocumentError(EXTRACTION_ERROR, "the file is binary, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            EXTRACTION_ERROR, f"the file is not valid UTF-8 text (byte {exc.start})"
        ) from None


def _pdf_text(raw: bytes) -> tuple[str, int]:
    import io

    from .._extras import require

    require("pypdf", "documents", "Extracting PDF text")
    from pypdf import PdfReader

    if not raw.lstrip()[:5] == b"%PDF-":
        raise DocumentError(EXTRACTION_ERROR, "the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(EXTRACTION_ERROR, "the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise DocumentError(EXTRACTION_ERROR, f"the PDF cannot be read: {exc}") from None
    if not any(p.strip() for p in pages):
        raise DocumentError(
            EXTRACTION_ERROR, "the PDF has no text layer (a scan? run OCR first)"
        )
    return "\n\n".join(p.strip() for p in pages), len(pages)


_MD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^```.*$", re.M), ""),                     # code fences (keep the code)
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),         # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),          # links -> their text
    (re.compile(r"^[ \t]{0,3}#{1,6}\s+", re.M), ""),           # heading marks
    (re.compile(r"^[ \t]{0,3}>\s?", re.M), ""),                # block quotes
    (re.compile(r"^[ \t]*([-*+]|\d+[.)])\s+", re.M), ""),      # list markers
    (re.compile(r"^[ \t]*([-*_][ \t]*){3,}$", re.M), ""),         # horizontal rules
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),               # bold
    (re.compile(r"(?<![\w*])[*_]([^*_\n]+)[*_](?![\w*])"), r"\1"),  # italics
    (re.compile(r"`([^`]+)`"), r"\1"),                      # inline code
)


def markdown_to_text(markdown: str) -> str:
    """Markdown without its markup: headings, emphasis, links and list marks become plain text."""
    text = markdown
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    return text


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
