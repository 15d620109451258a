"""Embedders: text -> vector. Pluggable; the default needs no model and no network.

An embedder is any object with `name: str`, `dimensions: int` and
`embed(texts) -> list[list[float]]` (the `Embedder` protocol). The worker
picks one with `SIGNALHUB_EMBEDDER`:

- `hashing` (default) or `hashing:DIMENSIONS` — `HashingEmbedder` below;
- `package.module:factory` — any callable returning an embedder, e.g. a
  wrapper around sentence-transformers or an embeddings API.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

DEFAULT_DIMENSIONS = 256

_WORD = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class HashingEmbedder:
    """Feature-hashing ("hashing trick") bag-of-words embedder: offline and deterministic.

    Each lower-cased word and each pair of adjacent words is hashed with
    BLAKE2b into one of `dimensions` buckets with a hashed sign (+1/-1),
    weighted by 1 + log(count); the vector is then scaled to length 1 (all
    zeros for a text without words). No model is downloaded and the same text
    gives the same vector in every process and on every machine.

    Texts that share words get a high cosine similarity; it is lexical, not
    semantic (synonyms do not match). Good for development, tests and
    keyword-like search; plug in a real model for semantic search.
    """

    def __init__(self, dimensions: int = DEFAULT_DIMENSIONS) -> None:
        if dimensions < 8:
            raise ValueError("dimensions must be at least 8")
        self.dimensions = dimensions
        self.name = f"hashing-{dimensions}"

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dimensions, (1.0 if value >> 63 else -1.0)

    def embed_one(self, text: str) -> list[float]:
        words = [w.lower() for w in _WORD.findall(text)]
        features = Counter(words)
        features.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
        vector = [0.0] * self.dimensions
        for feature, count in features.items():
            index, sign = self._bucket(feature)
            vector[index] += sign * (1.0 + math.log(count))
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(t) for t in texts]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def load_embedder(spec: str | None = None) -> Embedder:
    """The embedder named by `spec` (see the module docstring); `None` means `hashing`."""
    spec = (spec or "hashing").strip()
    if spec == "hashing" or spec.startswith("hashing:"):
        _, _, dims = spec.partition(":")
        return HashingEmbedder(int(dims) if dims else DEFAULT_DIMENSIONS)
    module_name, sep, attr = spec.partition(":")
    if not sep or not attr:
        raise ValueError(
            f"SIGNALHUB_EMBEDDER must be 'hashing', 'hashing:N' or 'module:factory', got {spec!r}"
        )
    embedder = getattr(importlib.import_module(module_name), attr)()
    if not isinstance(embedder, Embedder):
        raise TypeError(f"{spec} did not return an embedder (name, dimensions, embed)")
    return embedder
