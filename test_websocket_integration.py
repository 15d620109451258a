#!/usr/bin/env python3
"""End-to-end smoke test of a RUNNING signalhub (the one `make run` started).

    python test_websocket_integration.py [--url http://127.0.0.1:8000] [--file doc.md]

1. checks the API answers (`/healthz`);
2. opens the demo user's WebSocket;
3. uploads a document (`POST /api/v1/documents`), which starts DocumentProcessingWorkflow;
4. follows the socket until the workflow's completion (or error), checking
   status first, strictly rising progress, completion last, nothing twice;
5. checks the same signals are in the inbox (`GET /api/v1/inbox/signals`).

Reads `TOKEN`, `SIGNALHUB_URL` from the environment, else from `.data/env`
(written by `make run`). Exits 0 when all is well, 1 with the reason otherwise.
It runs itself with `.venv/bin/python` when started by another Python.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _ensure_project_python() -> None:
    try:
        import httpx  # noqa: F401
        import websockets  # noqa: F401

        import signalhub  # noqa: F401
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        # Compare prefixes, not executables: the venv's python is often a symlink to this one.
        if venv_python.exists() and Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
            os.execv(str(venv_python), [str(venv_python), *sys.argv])
        sys.exit("FAIL: signalhub is not installed here; run `make run` (it creates .venv) first")


def load_env_file() -> Path | None:
    """Put `.data/env`'s variables into os.environ (variables already set win)."""
    data_dir = Path(os.environ.get("SIGNALHUB_DATA_DIR") or ROOT / ".data")
    path = data_dir / "env"
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        parts = shlex.split(line, comments=True)
        if parts and parts[0] == "export":
            parts = parts[1:]
        for part in parts:
            key, sep, value = part.partition("=")
            if sep:
                os.environ.setdefault(key, value)
    return path


class Failure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


async def run(base: str, document: Path, timeout: float) -> None:
    import httpx

    from signalhub.dev.starter import describe, follow

    token = os.environ.get("TOKEN")
    check(bool(token), "no TOKEN: start the stack with `make run` (it writes .data/env) or export TOKEN")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        try:
            health = await http.get("/healthz")
        except httpx.HTTPError as exc:
            raise Failure(f"API not reachable at {base} ({exc}); start it with `make run`") from None
        check(health.status_code == 200, f"/healthz answered {health.status_code}: {health.text}")
        print(f"ok  API healthy at {base}")

        workflow: dict[str, str | None] = {"id": None}
        seen: list[dict] = []
        ready = asyncio.Event()
        ws_url = base.replace("http", "ws", 1) + "/ws"
        follower = asyncio.create_task(
            follow(ws_url, token, lambda: workflow["id"], seen.append, ready=ready, timeout=timeout)
        )
        ready_task = asyncio.create_task(ready.wait())
        await asyncio.wait({follower, ready_task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        ready_task.cancel()
        if not ready.is_set():
            follower.cancel()
            reason = follower.exception() if follower.done() and not follower.cancelled() else "timed out"
            raise Failure(f"WebSocket {ws_url} did not open: {reason}")
        print(f"ok  WebSocket connected ({ws_url})")

        with document.open("rb") as file:
            response = await http.post("/api/v1/documents", files={"file": (document.name, file)})
        if response.status_code != 202:
            follower.cancel()
            raise Failure(f"upload answered {response.status_code}: {response.text}")
        started = response.json()
        workflow["id"] = started["workflow_id"]
        print(f"ok  uploaded {document.name}: workflow {started['workflow_id']}")

        try:
            final = await follower
        except Exception as exc:
            raise Failure(f"no completion on the WebSocket: {exc!r} (is `signalhub worker` running?)") from None
        for signal in seen:
            print(f"    {describe(signal)}")
        types = [s["signal_type"] for s in seen]
        check(final["signal_type"] == "completion", f"workflow failed: {final['data']}")
        check(types[0] == "status_update", f"first signal was {types[0]}, not status_update")
        progress = [s["data"]["progress"] for s in seen if s["signal_type"] == "progress"]
        check(progress == sorted(set(progress)) and progress, f"progress not strictly rising: {progress}")
        check(len({s["seq"] for s in seen}) == len(seen), "a signal arrived twice")
        result = final["data"]["result"]
        check(result["document_id"] == started["document_id"] and result["chunk_count"] > 0, f"odd result {result}")
        print(f"ok  {len(seen)} signals in order, completion: {result}")

        inbox = await http.get("/api/v1/inbox/signals", params={"workflow_id": workflow["id"], "limit": 100})
        check(inbox.status_code == 200, f"inbox answered {inbox.status_code}: {inbox.text}")
        stored = [s["id"] for s in reversed(inbox.json()["signals"])]
        check(stored == [s["id"] for s in seen], f"inbox has {stored}, socket delivered {[s['id'] for s in seen]}")
        print(f"ok  the same {len(stored)} signals are in the inbox")


def main() -> int:
    _ensure_project_python()
    env_file = load_env_file()
    from signalhub.documents import SAMPLE_DOCUMENT

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("SIGNALHUB_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--file", type=Path, default=SAMPLE_DOCUMENT, help="document to upload")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for completion")
    args = parser.parse_args()
    if env_file:
        print(f"ok  settings from {env_file}")
    try:
        asyncio.run(run(args.url.rstrip("/"), args.file, args.timeout))
    except Failure as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    print("PASS: signals flowed from the workflow to the WebSocket and the inbox")
    return 0


if __name__ == "__main__":
    sys.exit(main())
