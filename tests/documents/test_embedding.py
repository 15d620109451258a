"""The default embedder: offline, deterministic across processes, lexical similarity; and plugging one in."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from signalhub.documents import HashingEmbedder, load_embedder
from signalhub.documents.embedding import cosine


def test_vectors_have_the_configured_size_and_unit_length():
    [vector] = HashingEmbedder(64).embed(["the lamp was lit every night"])
    assert len(vector) == 64
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0)


def test_a_text_without_words_embeds_to_zeros():
    assert HashingEmbedder(16).embed(["  ... !!"]) == [[0.0] * 16]


def test_same_text_gives_the_same_vector_in_another_process():
    code = "from signalhub.documents import HashingEmbedder; print(HashingEmbedder(32).embed(['Same words, same vector'])[0])"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert other.stdout.strip() == str(HashingEmbedder(32).embed(["Same words, same vector"])[0])


def test_texts_sharing_words_are_closer_than_unrelated_texts():
    embedder = HashingEmbedder()
    a, b, c = embedder.embed([
        "the foghorn was repaired in march",
        "in march the foghorn was repaired again",
        "quarterly revenue grew in the eastern region",
    ])
    assert cosine(a, b) > 0.6
    assert cosine(a, b) > cosine(a, c) + 0.3


def test_the_embedder_is_chosen_by_spec():
    assert load_embedder(None).name == "hashing-256"
    assert load_embedder("hashing:128").dimensions == 128
    custom = load_embedder("tests.documents.test_embedding:tiny_embedder")
    assert custom.name == "tiny" and custom.embed(["x"]) == [[1.0, 0.0]]


def test_a_bad_spec_is_refused_with_the_expected_forms():
    with pytest.raises(ValueError, match="hashing"):
        load_embedder("nonsense")
    with pytest.raises(TypeError):
        load_embedder("tests.documents.test_embedding:not_an_embedder")


class _Tiny:
    name = "tiny"
    dimensions = 2

    def embed(self, texts):
        return [[1.0, 0.0] for _ in texts]


def tiny_embedder():
    return _Tiny()


def not_an_embedder():
    return object()
