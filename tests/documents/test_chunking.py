"""Chunking: every chunk fits, points into the text, and nothing is lost (property-tested)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalhub.documents import chunk_text

WORDS = st.text(alphabet=st.sampled_from("abcdefghij .,!?\n\t"), min_size=0, max_size=3000)


@settings(max_examples=200, deadline=None)
@given(text=WORDS, max_chars=st.integers(5, 400), overlap_share=st.floats(0, 0.9))
def test_chunks_fit_point_into_the_text_and_cover_every_non_blank_character(text, max_chars, overlap_share):
    overlap = int(max_chars * overlap_share)
    chunks = chunk_text(text, max_chars, overlap)
    covered = set()
    for position, chunk in enumerate(chunks):
        assert chunk.index == position
        assert 0 < len(chunk.text) <= max_chars
        assert text[chunk.start:chunk.end] == chunk.text
        assert not chunk.text[0].isspace() and not chunk.text[-1].isspace()
        covered.update(range(chunk.start, chunk.end))
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_chunks_end_at_paragraphs_then_sentences_when_they_can():
    paragraph = "One sentence here. Another sentence there."
    text = f"{paragraph}\n\n{paragraph}\n\n{paragraph}"
    chunks = chunk_text(text, max_chars=100, overlap=0)
    assert [c.text for c in chunks] == [f"{paragraph}\n\n{paragraph}", paragraph]
    sentences = chunk_text("Alpha beta gamma. Delta epsilon zeta. Eta theta iota.", max_chars=40, overlap=0)
    assert sentences[0].text == "Alpha beta gamma. Delta epsilon zeta."


def test_consecutive_chunks_overlap_starting_at_a_word():
    text = " ".join(f"word{i:03d}" for i in range(200))
    chunks = chunk_text(text, max_chars=100, overlap=30)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # they share text
        assert text[after.start - 1] == " "  # and the next one starts at a word


def test_blank_text_has_no_chunks():
    assert chunk_text("") == []
    assert chunk_text(" \n\t ") == []


@pytest.mark.parametrize("max_chars, overlap", [(0, 0), (10, 10), (10, -1)])
def test_impossible_sizes_are_refused(max_chars, overlap):
    with pytest.raises(ValueError):
        chunk_text("text", max_chars, overlap)
