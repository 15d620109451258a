"""The load generator: WebSocket clients spread over several OS processes.

Each `ClientWorker` is a process running one asyncio loop (uvloop) with many
client connections (`wsclient.WsClient`, offering per-message deflate as
browsers do). The parent drives it over a pipe; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from .procworker import PipeWorker
from .wsclient import WsClient, open_client

#: signalhub served by `signalhub api`, and embedded in a host app: the same socket protocol.
SIGNALHUB_KINDS = ("signalhub", "embedded")


@dataclass
class Target:
    """How to reach one system: `kind` is signalhub | embedded | cm | socketio."""

    kind: str
    port: int
    secret: str = ""
    compression: bool = True  # offer per-message deflate, as browsers do
    receive_buffer: int | None = None  # pin SO_RCVBUF (the stalled client: a slow link)

    def path(self, user: str) -> str:
        if self.kind in SIGNALHUB_KINDS:
            from signalhub.auth import mint_user_token

            return f"/ws?token={mint_user_token(self.secret, user, ttl_seconds=7200)}"
        if self.kind == "cm":
            return f"/ws/{user}"
        return f"/socket.io/?EIO=4&transport=websocket&user={user}"


@dataclass
class _State:
    received: int = 0
    first: float = 0.0
    last: float = 0.0
    latencies: list[float] = field(default_factory=list)
    measure_latency: bool = False
    closed_codes: dict[int, int] = field(default_factory=dict)


def _emit_time(kind: str, payload: bytes) -> float | None:
    # The load generator shares the cores with the server: the emitter's stamp (`data.t`,
    # the only "t" key of the signal JSON) is read without decoding the whole message.
    if kind != "socketio":
        start = payload.find(b'"t":')
        if start >= 0:
            end = start + 4
            while end < len(payload) and payload[end] not in b",}":
                end += 1
            try:
                return float(payload[start + 4:end])
            except ValueError:
                pass
    try:
        if kind == "socketio":
            body = json.loads(payload[2:])[1]
            body = json.loads(body) if isinstance(body, str) else body
        else:
            body = json.loads(payload)
        return float(body["data"]["t"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None


class _Handler:
    """Per connection: finishes the system's own handshake, then counts messages."""

    __slots__ = ("kind", "box", "ready")

    def __init__(self, kind: str, box: list, ready: asyncio.Future) -> None:
        self.kind, self.box, self.ready = kind, box, ready
        if kind == "cm":
            ready.set_result(True)

    def __call__(self, client, payload: bytes) -> None:
        if not self.ready.done():
            if self.kind == "socketio" and payload.startswith(b"0"):
                client.send_text("40")  # join the default namespace
            elif self.kind in SIGNALHUB_KINDS or payload.startswith(b"40"):
                self.ready.set_result(True)  # `connected` hello / namespace joined
            return
        if self.kind == "socketio":
            if payload == b"2":
                client.send_text("3")
                return
            if not payload.startswith(b"42"):
                return
        state = self.box[0]
        now = time.monotonic()
        if not state.received:
            state.first = now
        state.received += 1
        state.last = now
        if state.measure_latency:
            sent = _emit_time(self.kind, payload)
            if sent is not None:
                state.latencies.append(now - sent)


async def _open(target: Target, user: str, box: list) -> WsClient | None:
    ready = asyncio.get_running_loop().create_future()
    handler = _Handler(target.kind, box, ready)
    try:
        client = await open_client(target.port, target.path(user), handler, compression=target.compression,
                                   receive_buffer=target.receive_buffer)
        await asyncio.wait_for(asyncio.shield(ready), 60)
    except Exception:
        return None

    def closed(future: asyncio.Future) -> None:
        if client.aborted:  # closed by the load generator itself
            return
        code = future.result()
        box[0].closed_codes[code] = box[0].closed_codes.get(code, 0) + 1

    client.closed.add_done_callback(closed)
    return client


async def _serve(pipe) -> None:
    loop = asyncio.get_running_loop()
    box = [_State()]  # one mutable cell: handlers see a reset at once
    clients: list[WsClient] = []
    while True:
        command, arg = await loop.run_in_executor(None, pipe.recv)
        if command == "connect":
            target, users = Target(**arg["target"]), arg["users"]
            gate = asyncio.Semaphore(arg["concurrency"])

            async def one(user: str, gate: asyncio.Semaphore = gate, target: Target = target) -> WsClient | None:
                async with gate:
                    return await _open(target, user, box)

            opened = await asyncio.gather(*(one(u) for u in users))
            clients.extend(c for c in opened if c is not None)
            ok = sum(1 for c in opened if c is not None)
            pipe.send({"ok": ok, "failed": len(users) - ok})
        elif command == "reset":
            state = box[0]
            state.received, state.first, state.last = 0, 0.0, 0.0
            state.latencies = []
            state.measure_latency = bool(arg)
            pipe.send(True)
        elif command == "stats":
            state = box[0]
            pipe.send({"received": state.received, "first": state.first, "last": state.last,
                       "closed": dict(state.closed_codes)})
        elif command == "latencies":
            pipe.send(box[0].latencies)
        elif command == "stall":
            for client in clients[: int(arg)]:
                client.stall()
            pipe.send(True)
        elif command in ("drop", "close"):
            for client in clients:
                client.abort()
            clients.clear()
            box[0] = _State()
            pipe.send(True)
            if command == "close":
                return


def ClientWorker() -> PipeWorker:
    """One load-generator process. Methods block with a timeout."""
    return PipeWorker("bench.loadgen", "_serve", "load generator")


class ClientPool:
    """Several workers, with connections spread evenly; aggregates their counters."""

    def __init__(self, processes: int) -> None:
        self.workers = [ClientWorker() for _ in range(processes)]

    def connect(self, target: Target, users: list[str], concurrency: int = 64) -> dict:
        from concurrent.futures import ThreadPoolExecutor

        n = len(self.workers)
        shares = [users[i::n] for i in range(n)]
        arg = lambda share: {"target": target.__dict__, "users": share, "concurrency": concurrency}  # noqa: E731
        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(lambda w_s: w_s[0].call("connect", arg(w_s[1]), timeout=300),
                                    zip(self.workers, shares, strict=True)))
        return {"ok": sum(a["ok"] for a in answers), "failed": sum(a["failed"] for a in answers)}

    def each(self, command: str, arg: Any = None) -> list[Any]:
        return [w.call(command, arg) for w in self.workers]

    def reset(self, measure_latency: bool = False) -> None:
        self.each("reset", measure_latency)

    def stats(self) -> dict:
        answers = self.each("stats")
        closed: dict[int, int] = {}
        for a in answers:
            for code, count in a["closed"].items():
                closed[int(code)] = closed.get(int(code), 0) + count
        firsts = [a["first"] for a in answers if a["received"]]
        return {
            "received": sum(a["received"] for a in answers),
            "first": min(firsts) if firsts else 0.0,
            "last": max(a["last"] for a in answers),
            "closed": closed,
        }

    def drop(self) -> None:
        """Close every connection (the workers stay up for the next scenario)."""
        self.each("drop")

    def latencies(self) -> list[float]:
        out: list[float] = []
        for part in self.each("latencies"):
            out.extend(part)
        return out

    def wait_for(self, expected: int, timeout: float, idle: float | None = None) -> dict:
        """Poll until `expected` messages arrived, `timeout` passed, or nothing came for `idle` s."""
        deadline = time.monotonic() + timeout
        last_count, last_change = -1, time.monotonic()
        while True:
            stats = self.stats()
            now = time.monotonic()
            if stats["received"] != last_count:
                last_count, last_change = stats["received"], now
            if stats["received"] >= expected or now >= deadline:
                return stats
            if idle is not None and now - last_change >= idle:
                return stats
            time.sleep(0.05)

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
