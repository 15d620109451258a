"""Splitting text into overlapping chunks for embedding. Pure.

Guarantees of `chunk_text(text, max_chars, overlap)`:
- every chunk is non-empty, at most `max_chars` long and equal to
  `text[chunk.start:chunk.end]` (offsets point into the original text);
- chunks are in text order and together cover every non-blank character;
- a chunk ends at the best boundary available in its second half: a
  paragraph break, else a sentence end, else whitespace, else mid-word;
- consecutive chunks share about `overlap` characters (starting at a word),
  so a sentence cut at a boundary is still whole in one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 1000
DEFAULT_OVERLAP = 150

_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"[.!?。][\"')\]]*\s"), re.compile(r"\s"))


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str


def _break_at(text: str, start: int, limit: int) -> int:
    """The end of the chunk that starts at `start` and may not pass `limit`."""
    floor = start + (limit - start) // 2
    for pattern in _BREAKS:
        best = -1
        for match in pattern.finditer(text, floor, limit):
            best = match.end()
        if best > floor:
            return best
    return limit


def chunk_text(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """Split `text` into chunks of at most `max_chars` characters (see module guarantees)."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    if not 0 <= overlap < max_chars:
        raise ValueError("overlap must be at least 0 and smaller than max_chars")
    chunks: list[Chunk] = []
    start = 0
    length = len(text)
    while start < length:
        # Skip leading whitespace so chunks start at content.
        while start < length and text[start].isspace():
            start += 1
        if start >= length:
            break
        limit = min(start + max_chars, length)
        end = limit if limit == length else _break_at(text, start, limit)
        stripped_end = end
        while stripped_end > start and text[stripped_end - 1].isspace():
            stripped_end -= 1
        chunks.append(Chunk(len(chunks), start, stripped_end, text[start:stripped_end]))
        if end >= length:
            break
        start = _next_start(text, start, end, overlap)
    return chunks


def _next_start(text: str, start: int, end: int, overlap: int) -> int:
    """Step back `overlap` characters from `end`, then forward to the start of a word."""
    candidate = max(end - overlap, start + 1)
    if candidate < end and candidate > 0 and not text[candidate - 1].isspace():
        space = re.compile(r"\s").search(text, candidate, end)
        candidate = space.end() if space else end
    return candidate
