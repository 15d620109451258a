"""An embedder that waits while a gate file exists: lets a browser test hold a
real document workflow at its "Generating embeddings" step for as long as it
needs (e.g. while it restarts the API), then let it finish.

Used by the worker as `SIGNALHUB_EMBEDDER=tests.browser.gated_embedder:create`;
the gate is the file named by `SIGNALHUB_TEST_EMBED_GATE`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from signalhub.documents.embedding import HashingEmbedder

GATE_ENV = "SIGNALHUB_TEST_EMBED_GATE"
MAX_WAIT_SECONDS = 120.0


class GatedEmbedder(HashingEmbedder):
    def __init__(self, gate: Path | None) -> None:
        super().__init__()
        self.gate = gate

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while self.gate is not None and self.gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().embed(texts)


def create() -> GatedEmbedder:
    gate = os.environ.get(GATE_ENV)
    return GatedEmbedder(Path(gate) if gate else None)
