"""The emitter: a separate OS process that emits signals at a fixed rate (or as
fast as it can) and stamps each with `data.t` = time.monotonic() at the emit call
(CLOCK_MONOTONIC is system-wide on Linux, so receivers can subtract it).

Modes: `service` (SignalService.emit, as a Temporal worker does: store + NOTIFY),
`batch` (the same signals written with SignalStore.insert_many: whatever queued up
while the previous write was in flight is written as one statement and one commit),
`http` (POST /api/v1/signals with a service token), `http_batch` (POST
/api/v1/signals/batch, `per_request` signals per request), `http_many` (POST
/api/v1/signals with `user_ids`: one signal to `per_request` users per request),
`peer` (POST /bench/emit). `emitted` counts signals, not requests.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing as mp
import time
from dataclasses import dataclass


@dataclass
class EmitPlan:
    mode: str
    users: list[str]
    count: int
    rate: float | None  # None: as fast as `concurrency` allows
    concurrency: int = 32
    database_url: str = ""
    port: int = 0
    service_token: str = ""
    timeout: float = 120.0
    broker_url: str = "postgres"  # `service` mode announces through it (the cluster run: its nats-server)
    per_request: int = 1  # signals per request (http_batch, http_many)


async def _run(plan: EmitPlan) -> dict:
    errors = 0
    stored = 0
    users = itertools.cycle(plan.users)
    gate = asyncio.Semaphore(plan.concurrency)
    closers = []

    if plan.mode == "service":
        from signalhub.runtime import open_runtime
        from signalhub.settings import Settings

        settings = Settings(database_url=plan.database_url, broker_url=plan.broker_url)
        runtime_cm = open_runtime(settings, run_migrations=False, pool_size=min(plan.concurrency, 20))
        runtime = await runtime_cm.__aenter__()
        closers.append(lambda: runtime_cm.__aexit__(None, None, None))

        async def send(user: str, i: int) -> None:
            await runtime.service.emit(user, "status_update", "bench-workflow",
                                       {"status": "running", "t": time.monotonic(), "i": i})
    elif plan.mode == "batch":
        from signalhub.broker import CHANNEL
        from signalhub.signals import NewSignal
        from signalhub.store import SignalStore, create_pool

        pool = await create_pool(plan.database_url, max_size=4)
        closers.append(pool.close)
        store = SignalStore(pool)
        pending: list[tuple[NewSignal, asyncio.Future]] = []
        wake = asyncio.Event()
        writers = asyncio.Semaphore(3)  # batches in flight at once

        async def write(batch: list[tuple[NewSignal, asyncio.Future]]) -> None:
            try:
                await store.insert_many([n for n, _ in batch], notify_channel=CHANNEL)
                for _, done in batch:
                    done.set_result(None)
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
            finally:
                writers.release()

        async def flusher() -> None:
            # Group commit: whatever queued up while the previous batch was being
            # written goes out as the next batch, so an idle system adds no delay.
            while True:
                await wake.wait()
                wake.clear()
                while pending:
                    await writers.acquire()
                    batch = pending[:500]
                    del pending[:500]
                    asyncio.create_task(write(batch))

        flush_task = asyncio.create_task(flusher())

        async def stop_flusher() -> None:
            flush_task.cancel()

        closers.insert(0, stop_flusher)

        async def send(user: str, i: int) -> None:
            new = NewSignal.create(user, "status_update", "bench-workflow",
                                   {"status": "running", "t": time.monotonic(), "i": i})
            done = asyncio.get_running_loop().create_future()
            pending.append((new, done))
            wake.set()
            await done
    else:
        import httpx

        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{plan.port}",
            limits=httpx.Limits(max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency),
            timeout=30,
        )
        closers.append(client.aclose)
        headers = {"Authorization": f"Bearer {plan.service_token}"}

        async def send(user: str, i: int) -> int:
            data = {"status": "running", "t": time.monotonic(), "i": i}
            if plan.mode == "http_batch":
                items = [{"user_id": next(users), "signal_type": "status_update", "workflow_id": "bench-workflow",
                          "data": data} for _ in range(plan.per_request)]
                response = await client.post("/api/v1/signals/batch", json={"signals": items}, headers=headers)
                response.raise_for_status()
                return sum(bool(r.get("created")) for r in response.json()["results"])
            if plan.mode == "http_many":
                recipients = [next(users) for _ in range(plan.per_request)]
                body = {"user_ids": recipients, "signal_type": "status_update", "workflow_id": "bench-workflow", "data": data}
                response = await client.post("/api/v1/signals", json=body, headers=headers)
                response.raise_for_status()
                return len({s["id"] for s in response.json()["signals"] if s["created"]})
            if plan.mode == "http":
                body = {"user_id": user, "signal_type": "status_update", "workflow_id": "bench-workflow", "data": data}
                response = await client.post("/api/v1/signals", json=body, headers=headers)
            else:
                response = await client.post("/bench/emit", json={"user": user, "data": data})
            response.raise_for_status()

    async def one(user: str, i: int) -> None:
        nonlocal errors, stored
        try:
            count = await send(user, i)  # awaited first: `stored += await …` would read `stored` before the await
            stored += 1 if count is None else count
        except Exception:
            errors += 1
        finally:
            gate.release()

    # Startup's objects out of the collector's reach, as `signalhub worker` and
    # `signalhub api` do once started (signalhub/heap.py).
    from signalhub.heap import freeze_startup_objects

    freeze_startup_objects()
    tasks = set()
    cpu_started = time.process_time()
    started = time.monotonic()
    deadline = started + plan.timeout
    sent = 0
    for i in range(plan.count):
        if plan.rate:
            delay = started + i / plan.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await gate.acquire()
        if time.monotonic() > deadline:
            gate.release()
            break
        task = asyncio.create_task(one(next(users), i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    elapsed = time.monotonic() - started
    cpu_seconds = time.process_time() - cpu_started
    for close in closers:
        await close()
    return {"emitted": stored, "requests": sent - errors, "errors": errors, "seconds": elapsed,
            "cpu_seconds": cpu_seconds, "achieved_rate": stored / elapsed if elapsed else 0.0}


def _main(plan: EmitPlan, pipe) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        pipe.send(asyncio.run(_run(plan)))
    except Exception as exc:  # reported, not raised: the parent writes it into the report
        pipe.send({"error": f"{type(exc).__name__}: {exc}"})


class Emitter:
    """Start with `start()`, collect with `result()` (bounded wait)."""

    def __init__(self, plan: EmitPlan) -> None:
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=_main, args=(plan, child), daemon=True)
        self.plan = plan

    def start(self) -> Emitter:
        self.process.start()
        return self

    def result(self) -> dict:
        timeout = self.plan.timeout + 90
        if not self._pipe.poll(timeout):
            self.process.kill()
            return {"error": f"emitter did not finish within {timeout}s"}
        out = self._pipe.recv()
        self.process.join(10)
        return out
