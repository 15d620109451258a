"""`python -m bench --cluster [--tiny | --quick | --full]`: three API instances behind HAProxy.

What `make cluster` runs (signalhub.dev.cluster, deploy/haproxy.cfg, a
nats-server), with thousands of sockets through the balancer:

1. spread: how many sockets each instance got (least connections);
2. an instance killed (SIGKILL) while signals flow: its clients reconnect with
   full-jitter backoff through the balancer to the others and resume; lost,
   duplicated, and how long until every socket was back (the reconnect curve);
3. the broker restarted while signals flow (on the two survivors): lost and duplicated.

Lost and duplicated are counted per socket against what PostgreSQL stored.
"""

from __future__ import annotations

import json
import resource
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .cluster_clients import Followers
from .cluster_report import write_cluster_report
from .emitter import EmitPlan, Emitter
from .machine import describe_machine
from .scenarios import percentile
from .systems import SECRET, bench_database, free_port, new_users


@dataclass(frozen=True)
class ClusterSizes:
    name: str
    sockets: int
    sockets_per_user: int   # a user's tabs: spread over instances, each must get every signal
    rate: int               # signals per second offered in each phase (spread over the users)
    phase_seconds: float    # the kill / broker restart comes a third of the way in
    client_processes: int
    balancers: int = 1      # HAProxy processes (two descriptors per socket each; one process may hold `ulimit -Hn`)


PROFILES = {
    "tiny": ClusterSizes("tiny", 60, 3, 40, 6.0, 1),
    "quick": ClusterSizes("quick", 6000, 3, 1000, 15.0, 3),
    "full": ClusterSizes("full", 20000, 4, 2000, 30.0, 6, balancers=3),
}


def _check_descriptors(sizes: ClusterSizes) -> None:
    """Each HAProxy process holds two descriptors per socket it proxies and cannot go past the hard limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    needed = 2 * -(-sizes.sockets // sizes.balancers) + 1000
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the {sizes.name} cluster run needs {needed:,} file descriptors per HAProxy process "
                         f"(2 per socket, {sizes.balancers} processes); this machine allows {hard:,} (ulimit -Hn)")


def run(profile: str, database_url: str | None, out: Path, plots: bool = True) -> dict:
    from signalhub.dev.cluster import Cluster
    from signalhub.settings import Settings

    sizes = PROFILES[profile]
    _check_descriptors(sizes)
    out.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="signalhub-bench-cluster-"))
    print(f"bench --cluster: profile {sizes.name}, logs in {log_dir}", flush=True)
    started = time.time()
    results: dict = {"profile": sizes.name, "sizes": asdict(sizes), "machine_before": describe_machine()}
    with bench_database(database_url) as url:
        settings = Settings(database_url=url, data_dir=log_dir / "data")
        cluster = Cluster(settings, port=free_port(), broker="nats", temporal=False, balancers=sizes.balancers,
                          logs=log_dir, secret=SECRET,
                          extra_env={"SIGNALHUB_MAX_CONNECTIONS": "50000", "LOG_LEVEL": "warning"})
        with cluster:
            followers = Followers(sizes.client_processes)
            try:
                results.update(_measure(cluster, followers, sizes, url))
            finally:
                followers.stop()
    results["machine_after"] = describe_machine()
    results["wall_seconds"] = time.time() - started
    (out / "results.json").write_text(json.dumps(results, indent=1))
    write_cluster_report(results, out, plots=plots)
    print(f"bench --cluster: wrote {out / 'REPORT.md'} in {results['wall_seconds']:.0f}s", flush=True)
    return results


def _measure(cluster, followers: Followers, sizes: ClusterSizes, url: str) -> dict:
    from signalhub.auth import mint_user_token

    users = new_users(sizes.sockets // sizes.sockets_per_user)
    sockets = [(u, mint_user_token(SECRET, u, ttl_seconds=7200)) for u in users for _ in range(sizes.sockets_per_user)]
    bystander = cluster.start_api_outside("bystander")
    rss0, cpu0 = _usage(cluster)
    idle_from, idle_cpu = time.monotonic(), _cpu_seconds(bystander.proc.pid)
    t0 = time.monotonic()
    opened = followers.connect([b.port for b in cluster.balancers], sockets)
    connect_seconds = time.monotonic() - t0
    time.sleep(1)  # let the last handshakes settle before reading memory
    rss1, cpu1 = _usage(cluster)
    spread = _sessions(cluster)
    print(f"  {opened['ok']:,} sockets in {connect_seconds:.1f}s, spread {spread}", flush=True)
    per_socket = {name: {"rss_kb": (rss1[name] - rss0[name]) / 1024 / (spread.get(name) or opened["ok"] / len(cluster.balancers)),
                         "cpu_ms": (cpu1[name] - cpu0[name]) * 1000 / (spread.get(name) or opened["ok"] / len(cluster.balancers))}
                  for name in rss1}

    # The bystander's CPU while no signal flows (timers, pings to nobody): subtracted below.
    idle_rate = (_cpu_seconds(bystander.proc.pid) - idle_cpu) / (time.monotonic() - idle_from)
    bystander_cpu0, phases_from = _cpu_seconds(bystander.proc.pid), time.monotonic()
    kill = _phase(cluster, followers, sizes, url, users, "kill", lambda: cluster.kill_api(0))
    before = kill["totals"]
    broker = _phase(cluster, followers, sizes, url, users, "broker restart", cluster.restart_broker)
    for key in ("lost", "duplicates", "out_of_order"):  # the second phase's own share
        broker[key] = broker["totals"][key] - before[key]
    bystander_cpu = (_cpu_seconds(bystander.proc.pid) - bystander_cpu0) - idle_rate * (time.monotonic() - phases_from)
    # Every instance hears every signal; one without sockets shows what that alone costs.
    bystander_us = bystander_cpu * 1e6 / max(1, broker["stored"])
    broker["stored"] -= kill["stored"]
    broker["expected_deliveries"] -= kill["expected_deliveries"]
    return {"sockets": opened, "connect_seconds": connect_seconds, "bytes_per_stored_signal": _bytes_per_row(url),
            "spread": spread, "per_socket": per_socket,
            "rss_mb": {name: rss / 2**20 for name, rss in rss1.items()},
            "bystander_cpu_us_per_signal": bystander_us, "kill": kill,
            "broker_restart": broker}


def _cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _usage(cluster) -> tuple[dict[str, int], dict[str, float]]:
    """RSS (bytes) and CPU seconds of each API instance and of HAProxy."""
    import psutil

    procs = {a.name: a.proc.pid for a in cluster.apis}
    procs |= {("haproxy" if i == 0 else f"haproxy{i + 1}"): b.proc.pid for i, b in enumerate(cluster.balancers)}
    rss, cpu = {}, {}
    for name, pid in procs.items():
        rss[name] = psutil.Process(pid).memory_info().rss
        cpu[name] = _cpu_seconds(pid)
    return rss, cpu


def _sessions(cluster) -> dict[str, int]:
    """Sockets per API instance, summed over every balancer's count."""
    total: dict[str, int] = {}
    for balancer in cluster.balancers:
        for server in balancer.servers():
            total[server.name] = total.get(server.name, 0) + server.sessions
    return total


class _Sampler(threading.Thread):
    """Sockets per instance as HAProxy counts them, every 100 ms."""

    def __init__(self, cluster) -> None:
        super().__init__(daemon=True)
        self.cluster, self.samples, self.done = cluster, [], threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            try:
                self.samples.append((time.monotonic(), _sessions(self.cluster)))
            except OSError:
                pass


def _phase(cluster, followers: Followers, sizes: ClusterSizes, url: str, users: list[str], what: str, act) -> dict:
    count = int(sizes.rate * sizes.phase_seconds)
    plan = EmitPlan(mode="service", users=users, count=count, rate=sizes.rate, concurrency=64, database_url=url,
                    broker_url=cluster.broker_url, timeout=sizes.phase_seconds * 3 + 30)
    sampler = _Sampler(cluster)
    sampler.start()
    emitter = Emitter(plan).start()
    time.sleep(sizes.phase_seconds / 3)
    acted_at = time.monotonic()
    act()
    act_seconds = time.monotonic() - acted_at
    emitted = emitter.result()
    stored = _stored(url)
    expected = sum(len(seqs) for seqs in stored.values()) * sizes.sockets_per_user
    waited = followers.wait_for(expected, timeout=120)
    sampler.done.set()
    sampler.join(5)
    report = followers.report()
    result = {"action": what, "action_seconds": act_seconds, "emitter": emitted, "stored": sum(len(s) for s in stored.values()),
              "expected_deliveries": expected, "received": waited["received"],
              "still_away": waited["away"], **_reconnects(report, acted_at)}
    totals = {"lost": sum(len(stored.get(r["user"], set()) - set(r["seqs"])) for r in report),
              "duplicates": sum(r["duplicates"] for r in report),
              "out_of_order": sum(r["out_of_order"] for r in report)}
    result.update(totals=totals, **totals)
    result["instances"] = [(round(t - acted_at, 3), counts) for t, counts in sampler.samples]
    print(f"  {what}: lost {totals['lost']}, duplicated {totals['duplicates']}, moved {result['moved']}, "
          f"all back after {result['all_back_seconds']}", flush=True)
    return result


def _reconnects(report: list[dict], since: float) -> dict:
    """Who lost their socket after `since`, when each was back, and when every attempt was made."""
    backs, attempts, failed = [], [], 0
    for r in report:
        outages = [o for o in r["outages"] if o[0] >= since]
        if outages:
            backs.append(outages[-1][1] - since if outages[-1][1] else None)
            attempts += [t - since for t in r["attempts"] if t >= since]
            failed += r["failed_attempts"]
    done = sorted(b for b in backs if b is not None)
    return {
        "moved": len(backs), "never_back": len(backs) - len(done),
        "back_seconds": [round(b, 3) for b in done], "attempt_seconds": [round(t, 3) for t in sorted(attempts)],
        "failed_attempts": failed,
        "all_back_seconds": done[-1] if done and len(done) == len(backs) else None,
        "back_p50_seconds": percentile(done, 50) if done else None,
        "back_p95_seconds": percentile(done, 95) if done else None,
    }


def _bytes_per_row(url: str) -> float:
    """workflow_signals (every partition) with its indexes, TOAST and idempotency keys, per row, after the run's inserts."""
    import asyncio

    from signalhub.store import connect as store_connect

    async def fetch():
        conn = await store_connect(url)
        try:
            await conn.execute("VACUUM ANALYZE workflow_signals")
            # Partitioned by month: the parent holds nothing, its partitions (and the key table) do.
            size = await conn.fetchval(
                "SELECT sum(pg_total_relation_size(relid))::bigint FROM pg_partition_tree('workflow_signals')")
            size += await conn.fetchval("SELECT pg_total_relation_size('workflow_signal_idempotency_keys')")
            rows = await conn.fetchval("SELECT count(*) FROM workflow_signals")
        finally:
            await conn.close()
        return size / max(rows, 1)

    return asyncio.run(fetch())


def _stored(url: str) -> dict[str, set[int]]:
    import asyncio

    from signalhub.store import connect as store_connect

    async def fetch():
        conn = await store_connect(url)
        try:
            rows = await conn.fetch("SELECT user_id::text AS u, array_agg(seq) AS s FROM workflow_signals GROUP BY 1")
        finally:
            await conn.close()
        return {r["u"]: set(r["s"]) for r in rows}

    return asyncio.run(fetch())
