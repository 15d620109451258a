"""The load generator: WebSocket clients spread over several OS processes.

Each `ClientWorker` is a process running one asyncio loop with many client
connections (the `websockets` library, offering permessage-deflate as
browsers do). The parent drives it over a pipe; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """How to reach one system: `kind` is signalhub | cm | socketio."""

    kind: str
    port: int
    secret: str = ""
    compression: str | None = "deflate"

    def url(self, user: str) -> str:
        base = f"ws://127.0.0.1:{self.port}"
        if self.kind == "signalhub":
            from signalhub.auth import mint_user_token

            return f"{base}/ws?token={mint_user_token(self.secret, user, ttl_seconds=7200)}"
        if self.kind == "cm":
            return f"{base}/ws/{user}"
        return f"{base}/socket.io/?EIO=4&transport=websocket&user={user}"


@dataclass
class _State:
    received: int = 0
    first: float = 0.0
    last: float = 0.0
    latencies: list[float] = field(default_factory=list)
    measure_latency: bool = False
    closed_codes: dict[int, int] = field(default_factory=dict)


def _emit_time(kind: str, text: str) -> float | None:
    try:
        if kind == "socketio":
            body = json.loads(text[2:])[1]
            body = json.loads(body) if isinstance(body, str) else body
        else:
            body = json.loads(text)
        return float(body["data"]["t"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None


async def _client(target: Target, user: str, state: _State, stall: asyncio.Event, ready: list) -> None:
    from websockets.asyncio.client import connect

    try:
        ws = await connect(
            target.url(user), compression=target.compression, ping_interval=None,
            open_timeout=60, close_timeout=2, max_size=2**22,
        )
    except Exception:
        ready.append(False)
        return
    try:
        if target.kind == "signalhub":
            await asyncio.wait_for(ws.recv(), 30)  # the `connected` hello
        elif target.kind == "socketio":
            await asyncio.wait_for(ws.recv(), 30)  # engine.io open packet
            await ws.send("40")
            await asyncio.wait_for(ws.recv(), 30)  # namespace connected
        ready.append(ws)
        kind = target.kind
        while True:
            if stall.is_set():
                await asyncio.sleep(3600)  # stop reading: the socket's buffers fill up
            text = await ws.recv()
            if kind == "socketio":
                if text == "2":
                    await ws.send("3")
                    continue
                if not text.startswith("42"):
                    continue
            now = time.monotonic()
            if not state.received:
                state.first = now
            state.received += 1
            state.last = now
            if state.measure_latency:
                sent = _emit_time(kind, text)
                if sent is not None:
                    state.latencies.append(now - sent)
    except Exception as exc:
        code = getattr(getattr(exc, "rcvd", None), "code", 0) or 0
        state.closed_codes[code] = state.closed_codes.get(code, 0) + 1
    finally:
        if not stall.is_set():
            await ws.close()


async def _serve(pipe) -> None:
    loop = asyncio.get_running_loop()
    state = _State()
    tasks: list[asyncio.Task] = []
    stalls: list[asyncio.Event] = []
    sockets: list = []
    while True:
        command, arg = await loop.run_in_executor(None, pipe.recv)
        if command == "connect":
            target, users, concurrency = Target(**arg["target"]), arg["users"], arg["concurrency"]
            ready: list = []
            gate = asyncio.Semaphore(concurrency)

            async def one(user: str) -> None:
                async with gate:
                    stall = asyncio.Event()
                    stalls.append(stall)
                    before = len(ready)
                    tasks.append(asyncio.create_task(_client(target, user, state, stall, ready)))
                    deadline = time.monotonic() + 60
                    while len(ready) == before and time.monotonic() < deadline:
                        await asyncio.sleep(0.005)

            await asyncio.gather(*(one(u) for u in users))
            deadline = time.monotonic() + 60
            while len(ready) < len(users) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            sockets.extend(r for r in ready if r is not False)
            pipe.send({"ok": sum(1 for r in ready if r is not False), "failed": ready.count(False)})
        elif command == "reset":
            state.received, state.first, state.last = 0, 0.0, 0.0
            state.latencies = []
            state.measure_latency = bool(arg)
            pipe.send(True)
        elif command == "stats":
            pipe.send({"received": state.received, "first": state.first, "last": state.last,
                       "closed": dict(state.closed_codes)})
        elif command == "latencies":
            pipe.send(state.latencies)
        elif command == "stall":
            for event in stalls[: int(arg)]:
                event.set()
            pipe.send(True)
        elif command in ("drop", "close"):
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for ws in sockets:
                ws.transport.abort()
            tasks.clear(), stalls.clear(), sockets.clear()
            state = _State()
            pipe.send(True)
            if command == "close":
                return


def _worker_main(pipe) -> None:
    from .peers.common import raise_fd_limit

    raise_fd_limit()
    asyncio.run(_serve(pipe))


class ClientWorker:
    """One load-generator process. Methods block with a timeout."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        self._lock = threading.Lock()

    def call(self, command: str, arg: Any = None, timeout: float = 120.0) -> Any:
        with self._lock:
            self._pipe.send((command, arg))
            if not self._pipe.poll(timeout):
                raise TimeoutError(f"load generator did not answer {command!r} within {timeout}s")
            return self._pipe.recv()

    def stop(self) -> None:
        try:
            self.call("close", timeout=30)
        except Exception:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


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
                                    zip(self.workers, shares)))
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
