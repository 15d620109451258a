"""Text extraction from real files: plain text, Markdown, PDF, and every refusal with its code."""

from __future__ import annotations

import os

import pytest

from signalhub.documents import SAMPLE_DOCUMENT, DocumentError, extract_text
from signalhub.documents.extract import markdown_to_text
from tests.documents.samples import PDF_PAGES, make_pdf


def test_plain_text_is_returned_as_utf8_without_bom_and_with_unix_newlines(tmp_path):
    path = tmp_path / "note.txt"
    path.write_bytes("\ufeffZürich\r\nline two\r\n".encode("utf-8"))
    extracted = extract_text(path)
    assert extracted.text == "Zürich\nline two"
    assert extracted.content_type == "text/plain"
    assert extracted.pages is None


def test_markdown_loses_its_markup_but_keeps_its_words(tmp_path):
    path = tmp_path / "readme.md"
    path.write_text("# Title\n\nSome **bold** and *italic* and `code`, a [link](http://x.example).\n\n- item one\n- item two\n")
    text = extract_text(path).text
    assert text == "Title\n\nSome bold and italic and code, a link.\n\nitem one\nitem two"


def test_markdown_keeps_code_inside_fences():
    assert markdown_to_text("```python\nprint(1)\n```") == "\nprint(1)\n"


def test_the_shipped_sample_document_is_readable():
    extracted = extract_text(SAMPLE_DOCUMENT)
    assert extracted.content_type == "text/markdown"
    assert "Signals from workflows" in extracted.text and "**" not in extracted.text


def test_pdf_text_is_extracted_page_by_page(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(PDF_PAGES))
    extracted = extract_text(path)
    assert extracted.pages == 2
    assert extracted.text == "\n\n".join(PDF_PAGES)


@pytest.mark.parametrize(
    "name, content, code, words",
    [
        ("missing.txt", None, "FILE_NOT_FOUND", "not found"),
        ("slides.pptx", b"PK\x03\x04", "UNSUPPORTED_TYPE", "supported: .markdown, .md, .pdf, .text, .txt"),
        ("noext", b"text", "UNSUPPORTED_TYPE", "(none)"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "EXTRACTION_ERROR", "PDF"),
        ("fake.pdf", b"hello, I am not a PDF", "EXTRACTION_ERROR", "no %PDF- header"),
        ("latin1.txt", "café".encode("latin-1"), "EXTRACTION_ERROR", "not valid UTF-8"),
        ("binary.txt", b"\x00\x01\x02text", "EXTRACTION_ERROR", "binary"),
        ("empty.md", b"  \n\n ", "EMPTY_DOCUMENT", "no text"),
    ],
)
def test_unreadable_documents_raise_a_document_error_with_its_code(tmp_path, name, content, code, words):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DocumentError) as refused:
        extract_text(path)
    assert refused.value.code == code
    assert words in refused.value.message


def test_pdf_without_a_text_layer_is_an_extraction_error(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([""]))
    with pytest.raises(DocumentError) as refused:
        extract_text(path)
    assert refused.value.code == "EXTRACTION_ERROR"
    assert "no text layer" in refused.value.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_without_read_permission_is_an_extraction_error(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("hidden")
    path.chmod(0)
    with pytest.raises(DocumentError) as refused:
        extract_text(path)
    assert refused.value.code == "EXTRACTION_ERROR"
