"""What the delivery tests share: a client that follows the documented protocol,
API instances started in parallel, an emitter process, and the one assertion
that matters (every stored signal, in order, none twice)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

from signalhub.store import connect as connect_db
from tests.support import ApiProcess, base_env

EMITTER = Path(__file__).resolve().parent / "emitter.py"


class StreamClient:
    """Keeps the last seq it saw and resumes with `?since=` — what docs/delivery.md asks of clients.

    It records raw frames (no dedupe), so a duplicate sent by the server shows.
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.signals: list[dict[str, Any]] = []
        self.controls: list[dict[str, Any]] = []
        self.close_codes: list[int | None] = []
        self.ws: websockets.ClientConnection | None = None

    @property
    def last_seq(self) -> int:
        return self.signals[-1]["seq"] if self.signals else 0

    async def open(self, url: str, *, resume: bool = True, **connect_args: Any) -> dict[str, Any]:
        query = f"token={self.token}"
        if resume and self.signals:
            query += f"&since={self.last_seq}"
        connect_args.setdefault("max_queue", None)
        self.ws = await websockets.connect(f"{url}?{query}", open_timeout=20, **connect_args)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        assert hello["type"] == "connected", hello
        return hello

    def _take(self, text: str) -> None:
        message = json.loads(text)
        (self.signals if "signal_type" in message else self.controls).append(message)

    async def read_until(self, count: int, timeout: float = 60.0) -> bool:
        """Read until `count` signals in all; False when the socket closed first."""
        return await self._read_while(lambda: len(self.signals) < count, timeout,
                                      lambda: f"got {len(self.signals)} of {count} signals")

    async def read_until_shown(self, seq: int, timeout: float = 60.0) -> bool:
        """Read until the signal with `seq` (or a later one) arrived; False when closed first."""
        return await self._read_while(lambda: self.last_seq < seq, timeout,
                                      lambda: f"last seq {self.last_seq}, waiting for {seq}")

    async def _read_while(self, wanting, timeout: float, progress) -> bool:
        assert self.ws is not None
        deadline = time.monotonic() + timeout
        while wanting():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(progress())
            try:
                self._take(await asyncio.wait_for(self.ws.recv(), remaining))
            except ConnectionClosed as exc:
                self.close_codes.append(exc.rcvd.code if exc.rcvd else None)
                self.ws = None
                return False
        return True

    async def read_control(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        """Read until a control message of type `kind` (signals read meanwhile are kept)."""
        assert self.ws is not None
        deadline = time.monotonic() + timeout
        while not any(c.get("type") == kind for c in self.controls):
            self._take(await asyncio.wait_for(self.ws.recv(), max(0.0, deadline - time.monotonic())))
        return next(c for c in self.controls if c.get("type") == kind)

    async def read_until_closed(self, timeout: float = 30.0) -> int | None:
        """Read what is still buffered, until the server side is gone; returns the close code."""
        assert self.ws is not None
        finished = await self.read_until(10**9, timeout)
        assert not finished
        return self.close_codes[-1]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


async def start_apis(count: int, database_url: str, log_dir: Path, **env: str) -> list[ApiProcess]:
    apis = [ApiProcess(database_url, log_dir, **env) for _ in range(count)]
    await asyncio.gather(*(asyncio.to_thread(api.start) for api in apis))
    return apis


def stop_apis(apis: list[ApiProcess]) -> None:
    for api in apis:
        api.stop()


class Emitter:
    """tests/delivery/emitter.py in its own OS process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, database_url: str, broker_url: str, users: list[uuid.UUID], count: int, **plan: Any) -> Emitter:
        plan = {"users": [str(u) for u in users], "count": count, **plan}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(EMITTER), json.dumps(plan),
            env=base_env(database_url, BROKER_URL=broker_url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def result(self, timeout: float = 120.0) -> dict[str, Any]:
        try:
            out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise
        assert self.proc.returncode == 0, err.decode()[-3000:]
        return json.loads(out.decode().strip().splitlines()[-1])

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def stored(database_url: str, user: uuid.UUID) -> list[tuple[int, str]]:
    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch("SELECT seq, id FROM workflow_signals WHERE user_id = $1 ORDER BY seq", user)
    finally:
        await conn.close()
    return [(r["seq"], str(r["id"])) for r in rows]


def assert_each_once_in_order(received: list[dict[str, Any]], expected: list[tuple[int, str]]) -> None:
    """Every stored signal, in seq order, none twice, nothing else."""
    seqs = [m["seq"] for m in received]
    duplicates = len(seqs) - len(set(seqs))
    assert duplicates == 0, f"{duplicates} signal(s) received twice"
    assert seqs == sorted(seqs), "signals out of order"
    missing = sorted(set(expected) - {(m["seq"], m["id"]) for m in received})
    assert not missing, f"{len(missing)} signal(s) never received, first: {missing[:5]}"
    assert [(m["seq"], m["id"]) for m in received] == expected
