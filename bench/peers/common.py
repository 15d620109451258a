"""Shared by the peer apps: the signal-shaped frame and the uvicorn runner."""

from __future__ import annotations

import argparse
import json
import resource
import uuid
from datetime import UTC, datetime

FD_LIMIT = 65536


def raise_fd_limit(limit: int = FD_LIMIT) -> int:
    """Raise RLIMIT_NOFILE as far as allowed (10k sockets need more than 20k fds with margins)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (max(limit, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target
        except (ValueError, OSError):
            continue
    return soft


def signal_text(seq: int, data: dict) -> str:
    """The same JSON shape signalhub sends, so every system moves the same bytes."""
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "signal_type": "status_update",
            "workflow_id": "bench-workflow",
            "data": data,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    )


def padding(size: int) -> str:
    return "x" * max(0, size - 200)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws", default="auto", help="uvicorn WebSocket implementation")
    return parser.parse_args()


def run(app, port: int, ws: str) -> None:
    import uvicorn

    raise_fd_limit()
    # uvicorn's defaults, as a user of these libraries would run them.
    uvicorn.run(app, host="127.0.0.1", port=port, ws=ws, log_level="warning", backlog=4096)
