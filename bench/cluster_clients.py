"""Clients for the cluster run: thousands of sockets through the load balancer,
each behaving as docs/client.md asks (resume with `?since=`, full-jitter backoff).

Each `FollowerWorker` is an OS process with one asyncio loop (uvloop) holding
many `wsclient.WsClient` sockets. A socket remembers every seq it received
(duplicates are counted, never dropped), and when its connection ends it waits
uniform [0, min(30 s, 0.5 s * 2^attempt)) and reconnects through the balancer
with `?since=<last seq>`. The parent drives the workers over pipes; every wait
is bounded.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

from .procworker import PipeWorker
from .wsclient import WsClient, open_client

BASE_DELAY, MAX_DELAY = 0.5, 30.0


def full_jitter(attempt: int, rng: random.Random) -> float:
    return rng.random() * min(MAX_DELAY, BASE_DELAY * 2 ** min(attempt, 30))


class Follower:
    """One socket of one user, across reconnects."""

    def __init__(self, user: str, token: str, port: int, rng: random.Random) -> None:
        self.user, self.token, self.port, self.rng = user, token, port, rng
        self.seqs: set[int] = set()
        self.last_seq = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.outages: list[list[float]] = []  # [lost, back] (back 0.0 while away)
        self.attempts: list[float] = []        # every connection attempt after a loss
        self.failed_attempts = 0
        self.client: WsClient | None = None
        self.stopping = False

    def on_text(self, client: WsClient, payload: bytes) -> None:
        if b'"signal_type"' not in payload:
            return
        seq = json.loads(payload)["seq"]
        if seq in self.seqs:
            self.duplicates += 1
            return
        if seq < self.last_seq:
            self.out_of_order += 1
        self.seqs.add(seq)
        self.last_seq = max(self.last_seq, seq)

    async def connect(self) -> None:
        path = f"/ws?token={self.token}" + (f"&since={self.last_seq}" if self.last_seq else "")
        client = await open_client(self.port, path, self.on_text, compression=False, timeout=30)
        self.client = client
        client.closed.add_done_callback(lambda _: self._lost(client))

    def _lost(self, client: WsClient) -> None:
        if self.stopping or client.aborted or client is not self.client:
            return
        self.outages.append([time.monotonic(), 0.0])
        asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        for attempt in range(40):  # bounded: minutes of backoff at most
            await asyncio.sleep(full_jitter(attempt, self.rng))
            if self.stopping:
                return
            self.attempts.append(time.monotonic())
            try:
                await self.connect()
            except Exception:
                self.failed_attempts += 1
                continue
            self.outages[-1][1] = time.monotonic()
            return

    def report(self) -> dict:
        return {"user": self.user, "seqs": sorted(self.seqs), "duplicates": self.duplicates,
                "out_of_order": self.out_of_order, "outages": self.outages, "attempts": self.attempts,
                "failed_attempts": self.failed_attempts}


async def _serve(pipe) -> None:
    loop = asyncio.get_running_loop()
    followers: list[Follower] = []
    rng = random.Random()
    while True:
        command, arg = await loop.run_in_executor(None, pipe.recv)
        if command == "connect":
            gate = asyncio.Semaphore(arg["concurrency"])
            batch = [Follower(user, token, port, rng) for user, token, port in arg["users"]]

            async def one(follower: Follower, gate: asyncio.Semaphore = gate) -> bool:
                async with gate:
                    try:
                        await follower.connect()
                        return True
                    except Exception:
                        return False

            ok = await asyncio.gather(*(one(f) for f in batch))
            followers.extend(f for f, good in zip(batch, ok, strict=True) if good)
            pipe.send({"ok": sum(ok), "failed": len(ok) - sum(ok)})
        elif command == "stats":
            pipe.send({"received": sum(len(f.seqs) for f in followers),
                       "away": sum(1 for f in followers if f.outages and not f.outages[-1][1])})
        elif command == "report":
            pipe.send([f.report() for f in followers])
        elif command == "close":
            for f in followers:
                f.stopping = True
                if f.client is not None:
                    f.client.abort()
            pipe.send(True)
            return


def FollowerWorker() -> PipeWorker:
    """One follower process."""
    return PipeWorker("bench.cluster_clients", "_serve", "cluster client worker")


class Followers:
    """Several worker processes; sockets spread evenly over them."""

    def __init__(self, processes: int) -> None:
        self.workers = [FollowerWorker() for _ in range(processes)]

    def connect(self, ports: list[int], sockets: list[tuple[str, str]], concurrency: int = 32) -> dict:
        """`sockets`: (user, token) per socket to open through a balancer; socket i goes to
        `ports[i % len(ports)]` (several balancers, as DNS would spread clients over them)."""
        from concurrent.futures import ThreadPoolExecutor

        routed = [(user, token, ports[i % len(ports)]) for i, (user, token) in enumerate(sockets)]

        n = len(self.workers)
        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(
                lambda i: self.workers[i].call(
                    "connect", {"users": routed[i::n], "concurrency": concurrency}, timeout=600),
                range(n)))
        return {"ok": sum(a["ok"] for a in answers), "failed": sum(a["failed"] for a in answers)}

    def stats(self) -> dict:
        answers = [w.call("stats") for w in self.workers]
        return {"received": sum(a["received"] for a in answers), "away": sum(a["away"] for a in answers)}

    def report(self) -> list[dict]:
        out: list[dict] = []
        for w in self.workers:
            out.extend(w.call("report", timeout=300))
        return out

    def wait_for(self, expected: int, timeout: float, idle: float = 20.0) -> dict:
        """Until `expected` distinct signals were received in all, `timeout` passed, or nothing moved for `idle` s."""
        deadline = time.monotonic() + timeout
        last, changed = -1, time.monotonic()
        while True:
            stats = self.stats()
            now = time.monotonic()
            if stats["received"] != last:
                last, changed = stats["received"], now
            if (stats["received"] >= expected and not stats["away"]) or now > deadline or now - changed > idle:
                return stats
            time.sleep(0.1)

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
