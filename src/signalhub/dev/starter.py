"""`signalhub demo`: start a DocumentProcessingWorkflow and print its signals live.

Where things are found (what `signalhub run` prints and writes to `.data/env`):
- the user: `--user` / `USER_ID`, else `demo-user` in the data directory;
- the token: `TOKEN`, else one minted with `SUPABASE_JWT_SECRET` (or the
  data directory's generated `jwt-secret`);
- the API: `SIGNALHUB_URL` (default http://127.0.0.1:8000); Temporal: `TEMPORAL_ADDRESS`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError

from ..auth import mint_user_token
from ..documents import SAMPLE_DOCUMENT
from ..documents.workflows import DocumentProcessingWorkflow
from ..settings import Settings

FINAL_TYPES = {"completion", "error"}


def _data_dirs(settings: Settings) -> list[Path]:
    # `make run` keeps its state in ./.data; a shell without SIGNALHUB_DATA_DIR still finds it.
    return [settings.data_dir, Path.cwd() / ".data"]


def _from_data_dir(settings: Settings, name: str) -> str | None:
    for directory in _data_dirs(settings):
        path = directory / name
        if path.is_file():
            return path.read_text().strip()
    return None


def resolve_user(settings: Settings, user: str | None) -> str:
    user = user or settings.user_id or _from_data_dir(settings, "demo-user")
    if not user:
        raise SystemExit("error: no user: pass --user UUID or set USER_ID (`source .data/env`)")
    try:
        return str(uuid.UUID(user))
    except ValueError:
        raise SystemExit(f"error: the user must be a UUID, got {user!r}") from None


def resolve_token(settings: Settings, user: str) -> str:
    token = settings.token.get_secret_value() if settings.token else None
    if token and (settings.user_id or user) == user:
        return token
    secret = (
        settings.supabase_jwt_secret.get_secret_value() if settings.supabase_jwt_secret else None
    ) or _from_data_dir(settings, "jwt-secret")
    if not secret:
        raise SystemExit("error: no token: set TOKEN or SUPABASE_JWT_SECRET (`source .data/env`)")
    return mint_user_token(secret, user)


def api_url(settings: Settings) -> str:
    return (settings.signalhub_url or f"http://127.0.0.1:{settings.port}").rstrip("/")


def describe(signal: dict[str, Any]) -> str:
    """One human line per signal."""
    data = signal.get("data") or {}
    kind = signal.get("signal_type")
    if kind == "progress":
        detail = f"{data.get('progress', 0):>5.0%}  {data.get('step') or ''}: {data.get('message') or ''}"
    elif kind == "status_update":
        detail = f"{data.get('status')}: {data.get('message') or ''}"
    elif kind == "completion":
        detail = json.dumps(data.get("result"))
    else:
        detail = f"{data.get('error_code')}: {data.get('error')}"
    return f"#{signal.get('seq')} {kind:<13} {detail}"


async def follow(
    ws_url: str,
    token: str,
    workflow_id: Callable[[], str | None],
    on_signal: Callable[[dict[str, Any]], None],
    *,
    ready: asyncio.Event | None = None,
    timeout: float = 120.0,
) -> dict[str, Any] | None:
    """Read the user's WebSocket until the workflow's completion or error signal; return it.

    `workflow_id` is read per message, so the socket can be opened (and
    `ready` set) before the workflow is started and gets its id.
    """
    import websockets
    from websockets.typing import Subprotocol

    deadline = time.monotonic() + timeout
    # Signals may arrive before the workflow id is known (the workflow starts
    # fast); they wait here until it is.
    backlog: list[dict[str, Any]] = []
    async with websockets.connect(ws_url, subprotocols=[Subprotocol("bearer"), Subprotocol(token)], open_timeout=10) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "connected":
            raise RuntimeError(f"unexpected first message: {hello}")
        if ready is not None:
            ready.set()
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), min(remaining, 0.5)))
            except TimeoutError:
                message = None
            if message is not None and "signal_type" in message:
                backlog.append(message)
            wanted = workflow_id()
            if wanted is None:
                continue
            for signal in backlog:
                if signal.get("workflow_id") != wanted:
                    continue
                on_signal(signal)
                if signal["signal_type"] in FINAL_TYPES:
                    return signal
            backlog.clear()
    raise TimeoutError(f"no completion or error signal within {timeout:.0f}s")


async def start_document_workflow(
    client: Client, settings: Settings, file: Path, user: str, *, domain_id: str = "demo"
) -> tuple[str, str]:
    """Start DocumentProcessingWorkflow for `file`; returns (workflow_id, document_id)."""
    document_id = str(uuid.uuid4())
    workflow_id = f"doc-{document_id}"
    await client.start_workflow(
        DocumentProcessingWorkflow.run,
        args=[document_id, domain_id, str(file), user],
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
    )
    return workflow_id, document_id


async def demo(settings: Settings, file: Path | None, user: str | None) -> None:
    """Run the demo and end the process with its exit code (0: completed, 1: failed)."""
    code = await _demo(settings, file, user)
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal client's native threads can outlive a short-lived interpreter and
    # abort its shutdown (temporalio/sdk-python#300); nothing is left to clean up here.
    os._exit(code)


async def _demo(settings: Settings, file: Path | None, user: str | None) -> int:
    from ..temporal.worker import connect

    file = (file or SAMPLE_DOCUMENT).resolve()
    user = resolve_user(settings, user)
    token = resolve_token(settings, user)
    base = api_url(settings)
    ws_url = base.replace("http", "ws", 1) + "/ws"
    client = await connect(settings, timeout=10)

    current: dict[str, str | None] = {"id": None}
    ready = asyncio.Event()
    follower = asyncio.create_task(
        follow(ws_url, token, lambda: current["id"], lambda s: print(describe(s), flush=True), ready=ready)
    )
    ready_task = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({follower, ready_task}, return_when=asyncio.FIRST_COMPLETED)
    ready_task.cancel()
    if follower in done and follower.exception() is not None:
        print(f"note: cannot follow {ws_url} ({follower.exception()}); waiting for the result instead", file=sys.stderr)

    workflow_id, document_id = await start_document_workflow(client, settings, file, user)
    current["id"] = workflow_id
    print(f"started {workflow_id} for {file.name} (user {user}, document {document_id})", flush=True)
    if temporal_is_local(settings):
        print(f"Temporal UI: http://127.0.0.1:8233/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}")

    handle = client.get_workflow_handle(workflow_id)
    try:
        result = await asyncio.wait_for(handle.result(), 180)
    except WorkflowFailureError as exc:
        await _settle(follower)
        print(f"workflow failed: {exc.cause}", file=sys.stderr)
        return 1
    await _settle(follower)
    print(f"result: {json.dumps(result)}")
    return 0


def temporal_is_local(settings: Settings) -> bool:
    return settings.temporal_address in {"127.0.0.1:7233", "localhost:7233"}


async def _settle(follower: asyncio.Task) -> None:
    """Give the socket a moment to deliver the final signal, then stop following."""
    try:
        await asyncio.wait_for(asyncio.shield(follower), 10)
    except Exception:
        pass
    follower.cancel()
