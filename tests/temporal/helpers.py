"""Shared steps of the Temporal tests: start a document workflow, read its signals and its inbox."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from signalhub.documents.workflows import DocumentProcessingWorkflow
from tests.support import collect_signals

RESULT_TIMEOUT = 60.0


async def start_document(client, path: Path | str, user_id, workflow_id: str, task_queue: str = "signalhub"):
    document_id = str(uuid.uuid4())
    handle = await client.start_workflow(
        DocumentProcessingWorkflow.run,
        args=[document_id, "tests", str(path), str(user_id)],
        id=workflow_id,
        task_queue=task_queue,
    )
    return handle, document_id


async def signals_until_final(ws, limit: int = 20, timeout: float = RESULT_TIMEOUT) -> list[dict[str, Any]]:
    """Signals from the socket up to and including the first completion or error."""
    out: list[dict[str, Any]] = []
    while len(out) < limit:
        [signal] = await collect_signals(ws, 1, timeout=timeout)
        out.append(signal)
        if signal["signal_type"] in ("completion", "error"):
            return out
    raise AssertionError(f"no completion or error among {out}")


async def inbox(api, token: str, workflow_id: str) -> list[dict[str, Any]]:
    """The workflow's signals in the user's inbox, oldest first."""
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        response = await http.get("/api/v1/inbox/signals", params={"workflow_id": workflow_id, "limit": 100})
    response.raise_for_status()
    return list(reversed(response.json()["signals"]))


async def result_of(handle, timeout: float = RESULT_TIMEOUT):
    return await asyncio.wait_for(handle.result(), timeout)


async def no_more_signals(ws, within: float = 1.0) -> bool:
    """True when no further signal frame arrives within `within` seconds (control frames are ignored)."""
    deadline = time.monotonic() + within
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        except TimeoutError:
            return True
        if "signal_type" in message:
            return False
    return True
