"""The measurements. Each takes a running system and the client pool and returns a dict.

Every wait is bounded; a system that stops delivering is reported with what it
delivered, not waited for forever.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

from .config import Sizes
from .emitter import EmitPlan, Emitter
from .loadgen import ClientPool, Target
from .systems import SECRET, SystemProcess, new_users


def target_for(system: SystemProcess) -> Target:
    return Target(system.kind, system.port, SECRET)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _settle(system: SystemProcess, expected: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    n = -1
    while time.monotonic() < deadline:
        try:
            n = system.connections()
        except OSError:  # busy accepting or tearing down thousands of sockets: ask again
            n = -1
        if n == expected:
            return n
        time.sleep(0.1)
    return n


def _finish(system: SystemProcess, pool: ClientPool) -> None:
    pool.drop()
    _settle(system, 0)


def idle_connections(system: SystemProcess, pool: ClientPool, sizes: Sizes) -> dict:
    """Hold N idle authenticated connections (one user each); RSS growth per connection."""
    target = target_for(system)
    pool.connect(target, new_users(10))  # warm the code paths before the baseline
    _finish(system, pool)
    time.sleep(sizes.settle_seconds)
    base = system.rss()
    steps = []
    held = 0
    for n in sizes.idle_steps:
        started = time.monotonic()
        answer = pool.connect(target, new_users(n - held), concurrency=64)
        held += answer["ok"]
        connect_seconds = time.monotonic() - started
        server_count = _settle(system, held)
        time.sleep(sizes.settle_seconds)
        rss = system.rss()
        steps.append({
            "target": n, "held": held, "server_count": server_count, "failed": answer["failed"],
            "rss_mb": rss / 2**20, "kb_per_connection": (rss - base) / 1024 / max(held, 1),
            "connect_seconds": connect_seconds,
        })
        if answer["failed"]:
            break
    _finish(system, pool)
    return {"base_rss_mb": base / 2**20, "steps": steps}


def fanout(system: SystemProcess, pool: ClientPool, sizes: Sizes, *, broadcast: bool) -> dict:
    """Deliveries per second: every round sends one frame to every socket.

    broadcast: all sockets belong to one user (one signal reaches every socket);
    targeted: one user per socket (one signal per user per round).
    """
    n, rounds = sizes.fanout_connections, sizes.fanout_rounds
    users = [new_users(1)[0]] * n if broadcast else new_users(n)
    answer = pool.connect(target_for(system), users)
    held = answer["ok"]
    _settle(system, held)
    pool.reset()
    system.post("/bench/fanout", {"rounds": 3})  # warm-up
    pool.wait_for(3 * held, timeout=60, idle=10)
    runs = []
    for _ in range(max(1, sizes.fanout_repeats)):
        pool.reset()
        # Frames are produced first (timed by the system itself), then delivered in the measured
        # window: they arrive pre-encoded, as the broker hands them over in production.
        produce0 = system.produce_cpu_seconds()
        system.post("/bench/prepare", {"rounds": rounds}, timeout=120)
        produce = system.produce_cpu_seconds() - produce0
        cpu0 = system.cpu_seconds()
        started = time.monotonic()
        system.post("/bench/fanout", {"rounds": rounds, "prepared": True})
        stats = pool.wait_for(rounds * held, timeout=180, idle=15)
        cpu = system.cpu_seconds() - cpu0
        seconds = max(stats["last"] - started, 1e-9)
        delivered = stats["received"]
        runs.append({
            "delivered": delivered, "seconds": seconds,
            "deliveries_per_second": delivered / seconds,
            "server_cpu_seconds": cpu, "deliveries_per_cpu_second": delivered / cpu if cpu else None,
            # Server CPU per delivery, split: encoding the frames (the broker's side in production:
            # the emitting process encodes) and everything after (routing, framing, writing).
            "produce_cpu_us_per_delivery": 1e6 * produce / delivered if delivered else None,
            "deliver_cpu_us_per_delivery": 1e6 * cpu / delivered if delivered else None,
            "closed": stats["closed"],
        })
    _finish(system, pool)
    # A run of ~1 s on shared cores is noisy: report the median run (all runs are kept).
    median = sorted(runs, key=lambda r: r["deliveries_per_second"])[len(runs) // 2]
    return {"connections": held, "rounds": rounds, "expected": rounds * held, **median, "runs": runs}


def stalled_reader(system: SystemProcess, pool: ClientPool, stalled_pool: ClientPool, sizes: Sizes) -> dict:
    """Healthy sockets of one user keep receiving while another socket of that user stopped reading."""
    user = new_users(1)[0]
    target = target_for(system)
    # First in the user's list (the docs' loop meets it first), on a small receive buffer.
    stalled_pool.connect(dataclasses.replace(target, receive_buffer=16384), [user])
    stalled_pool.each("stall", 1)
    held = pool.connect(target, [user] * sizes.stalled_healthy)["ok"]
    _settle(system, held + 1)
    rounds = int(sizes.stalled_rate * sizes.stalled_seconds)
    pool.reset()
    started = time.monotonic()
    system.post("/bench/fanout", {"rounds": rounds, "rate": sizes.stalled_rate, "size": sizes.stalled_payload})
    expected = rounds * held
    stats = pool.wait_for(expected, timeout=sizes.stalled_seconds + 30, idle=5)
    seconds = max(stats["last"] - started, 1e-9)
    stalled_stats = stalled_pool.stats()
    # The stalled client cannot read a close frame; ask the server whether (and when) it lets go.
    deadline = time.monotonic() + 20
    server_connections = system.connections()
    while server_connections > held and time.monotonic() < deadline:
        time.sleep(0.1)
        server_connections = system.connections()
    dropped_after = time.monotonic() - started if server_connections <= held else None
    slow_consumer_closes = _slow_consumer_closes(system)
    stalled_pool.drop()
    _finish(system, pool)
    return {
        "healthy": held, "rounds": rounds, "payload_bytes": sizes.stalled_payload,
        "offered_rounds_per_second": sizes.stalled_rate,
        "expected": expected, "delivered": stats["received"],
        "delivered_fraction": stats["received"] / expected if expected else 0.0,
        "seconds": seconds, "ideal_seconds": sizes.stalled_seconds,
        "healthy_deliveries_per_second": stats["received"] / seconds,
        "stalled_client_closed_with": stalled_stats["closed"],
        "stalled_client_dropped_by_server": server_connections <= held,
        "stalled_client_dropped_after_seconds": dropped_after,
        "slow_consumer_closes": slow_consumer_closes,
    }


def _slow_consumer_closes(system: SystemProcess) -> int | None:
    """signalhub's count of 4408 closes (from /metrics); None for the peers."""
    if system.kind != "signalhub":
        return None
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{system.port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("signalhub_slow_consumer_disconnects_total "):
                return int(float(line.split()[1]))
    return 0


def _latency_summary(latencies: list[float]) -> dict:
    ms = [x * 1000 for x in latencies]
    return {
        "samples": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99), "max_ms": max(ms) if ms else float("nan"),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
    }


def _emit_mode(system: SystemProcess, path: str) -> str:
    """`path`: service | batch | http | http_batch | http_many (signalhub); the peers always take their HTTP route."""
    return "peer" if system.kind != "signalhub" else path


def latency(system: SystemProcess, pool: ClientPool, sizes: Sizes, rate: int, *, path: str = "service") -> dict:
    """Emit (separate process) -> receipt on the socket, at a fixed offered rate."""
    from signalhub.auth import mint_service_token

    users = new_users(sizes.latency_users)
    held = pool.connect(target_for(system), users)["ok"]
    _settle(system, held)
    pool.reset(measure_latency=True)
    count = int(rate * sizes.latency_seconds)
    plan = EmitPlan(
        # httpx slows down past a few connections: HTTP paths (signalhub's and the peers') get 8.
        mode=_emit_mode(system, path), users=users, count=count, rate=rate,
        concurrency=64 if _emit_mode(system, path) in ("service", "batch") else 8,
        database_url=system.database_url, port=system.port, service_token=mint_service_token(SECRET),
        timeout=sizes.latency_seconds * 4 + 10,
    )
    result = Emitter(plan).start().result()
    emitted = result.get("emitted", 0)
    stats = pool.wait_for(emitted, timeout=30, idle=5)
    summary = _latency_summary(pool.latencies())
    _finish(system, pool)
    return {"offered_rate": rate, "emit_mode": plan.mode, "emitter": result,
            "delivered": stats["received"], **summary}


#: Signals per request of the multi-signal HTTP paths (batch items, or recipients).
PER_REQUEST = {"http_batch": 500, "http_many": 100}


def _per_request(path: str, users: list[str]) -> int:
    # Many recipients: each distinct (a user named twice gets one signal).
    return min(PER_REQUEST[path], len(users)) if path == "http_many" else PER_REQUEST.get(path, 1)


def _ingest_concurrency(sizes: Sizes, path: str) -> int:
    if path == "batch":
        return sizes.ingest_concurrency * 8
    if path == "http_many":
        # A fifth of a batch request's signals each (100 recipients): twice the requests in flight
        # keep the server busy (quick profile, measured: 4 in flight 9.7-11.7k/s, 8 12.7k/s, 16 no more).
        return max(2, sizes.ingest_concurrency // 4)
    if path in PER_REQUEST:  # each request carries hundreds of signals: a few in flight keep the server busy
        return max(2, sizes.ingest_concurrency // 8)
    return sizes.ingest_concurrency


def _postgres_cpu_seconds() -> float:
    """CPU of every `postgres` process on the machine (the server is shared: other
    databases' work is included; read as an upper bound)."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times", "ppid"]):
        times = process.info.get("cpu_times")
        if process.info.get("name") == "postgres" and times is not None:
            total += times.user + times.system
            if process.info.get("ppid") == 1 or psutil.Process(process.info["ppid"]).name() != "postgres":
                # The postmaster: backends that ended (the emitter's connections) count here.
                total += times.children_user + times.children_system
    return total


def ingest(system: SystemProcess, pool: ClientPool, sizes: Sizes, *, path: str = "service",
           concurrency: int | None = None, measure_latency: bool = False) -> dict:
    """As many signals as the emitter can push (stored and delivered) in a fixed time.

    `concurrency`: emits in flight at once (default: the profile's; the batch path 8×, the
    multi-signal HTTP paths an eighth).
    With `measure_latency` the emit -> socket latency at that rate is reported too.
    """
    from signalhub.auth import mint_service_token

    users = new_users(sizes.latency_users)
    held = pool.connect(target_for(system), users)["ok"]
    _settle(system, held)
    pool.reset(measure_latency=measure_latency)
    if concurrency is None:
        concurrency = _ingest_concurrency(sizes, path)
    plan = EmitPlan(
        mode=_emit_mode(system, path), users=users, count=10_000_000, rate=None,
        concurrency=concurrency, database_url=system.database_url, port=system.port,
        service_token=mint_service_token(SECRET), timeout=sizes.ingest_seconds, per_request=_per_request(path, users),
    )
    cpu0 = system.cpu_seconds()
    database_cpu0 = _postgres_cpu_seconds()
    result = Emitter(plan).start().result()
    emitted = result.get("emitted", 0)
    stats = pool.wait_for(emitted, timeout=60, idle=5)
    cpu = system.cpu_seconds() - cpu0
    database_cpu = _postgres_cpu_seconds() - database_cpu0
    latency_summary = _latency_summary(pool.latencies()) if measure_latency else {}
    _finish(system, pool)
    seconds = result.get("seconds") or 1e-9
    span = max(stats["last"] - stats["first"], 1e-9) if stats["received"] > 1 else seconds
    return {
        "emit_mode": plan.mode, "concurrency": plan.concurrency, "per_request": plan.per_request, "emitter": result,
        "stored_per_second": emitted / seconds if system.kind == "signalhub" else None,
        "emitted_per_second": emitted / seconds,
        "delivered": stats["received"], "delivered_per_second": stats["received"] / max(span, seconds),
        "server_cpu_seconds": cpu, "emitter_cpu_seconds": result.get("cpu_seconds"),
        "postgres_cpu_seconds": database_cpu, **({"latency": latency_summary} if measure_latency else {}),
    }
