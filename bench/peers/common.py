"""Shared by the peer apps: the signal-shaped frame, the paced producer loop and the uvicorn runner."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")

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


class ProduceClock:
    """CPU seconds this process spent producing frames (encoding the signal JSON), kept
    apart so the bench can split server CPU per delivery into producing and delivering.
    Fan-out runs produce every round's frames first (`/bench/prepare`, timed), then
    deliver them (`/bench/fanout` with `prepared`): frames arrive pre-encoded, as the
    broker hands them to signalhub in production."""

    seconds = 0.0

    @classmethod
    def timed(cls, make: Callable[[], T]) -> T:
        started = time.thread_time()
        try:
            return make()
        finally:
            cls.seconds += time.thread_time() - started


def padding(size: int) -> str:
    """Filler that brings a frame to about `size` bytes. Random, so per-message deflate
    cannot shrink it (a new value per round: nothing for the compressor to refer back to)."""
    n = max(0, size - 200)
    return base64.b64encode(os.urandom(n * 3 // 4 + 3)).decode()[:n]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws", default="auto", help="uvicorn WebSocket implementation")
    parser.add_argument("--deflate", default="default", choices=("default", "0", "1"),
                        help="per-message deflate (default: the library's default, on)")
    return parser.parse_args()


def run(app, args: argparse.Namespace) -> None:
    import uvicorn

    raise_fd_limit()
    # uvicorn's defaults, as a user of these libraries would run them (unless a variant says otherwise).
    extra = {} if args.deflate == "default" else {"ws_per_message_deflate": args.deflate == "1"}
    uvicorn.run(app, host="127.0.0.1", port=args.port, ws=args.ws, log_level="warning", backlog=4096, **extra)


async def paced_rounds(rounds: int, rate: float | None) -> AsyncIterator[int]:
    """0, 1, ... rounds-1; with `rate`, round r is not started before r / rate seconds."""
    started = time.monotonic()
    for r in range(rounds):
        if rate:
            delay = started + r / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        yield r


_background: set[asyncio.Task] = set()


def in_background(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` as a task that is kept referenced until it ends (a bench route returns at once)."""
    task = asyncio.create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
