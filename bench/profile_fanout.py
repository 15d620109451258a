"""Targeted fan-out under a profiler: `python -m bench.profile_fanout [signalhub|cm] [perf|spy|none]`.

1,000 sockets (one user each) on the system, then three measured runs of 400
prepared rounds; the third runs with `perf record -g` (or py-spy) attached to
the server process, written to /tmp/signalhub-profile/<system>.data (.spy).
Needs PostgreSQL at $TEST_DATABASE_URL (default 127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .loadgen import ClientPool
from .scenarios import _settle, target_for
from .systems import SystemProcess, bench_database, new_users

ROUNDS = 400
OUT = Path("/tmp/signalhub-profile")


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "signalhub"
    mode = sys.argv[2] if len(sys.argv) > 2 else "perf"
    OUT.mkdir(exist_ok=True)
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with bench_database(server) as db:
        options = {"deflate": "0"} if kind == "cm" else {}
        system = SystemProcess(kind, Path(tempfile.mkdtemp()), database_url=db, **options).start()
        pool = ClientPool(2)
        try:
            held = pool.connect(target_for(system), new_users(1000))["ok"]
            _settle(system, held)
            pool.reset()
            system.post("/bench/fanout", {"rounds": 3})
            pool.wait_for(3 * held, timeout=60, idle=10)
            for run in range(3):
                pool.reset()
                system.post("/bench/prepare", {"rounds": ROUNDS}, timeout=120)
                profiler = _attach(mode, kind, system) if run == 2 else None
                cpu0, started = system.cpu_seconds(), time.monotonic()
                system.post("/bench/fanout", {"rounds": ROUNDS, "prepared": True})
                stats = pool.wait_for(ROUNDS * held, timeout=180, idle=15)
                cpu = system.cpu_seconds() - cpu0
                print(f"{kind} run {run}: {stats['received']} delivered, "
                      f"{stats['received'] / (stats['last'] - started):,.0f}/s, "
                      f"{1e6 * cpu / stats['received']:.2f} µs server CPU per delivery", flush=True)
                if profiler is not None:
                    profiler.send_signal(2)
                    profiler.wait(60)
        finally:
            pool.stop()
            system.stop()


def _attach(mode: str, kind: str, system: SystemProcess) -> subprocess.Popen | None:
    assert system.proc is not None
    pid = str(system.proc.pid)
    if mode == "perf":
        command = ["perf", "record", "-F", "2000", "-g", "-o", str(OUT / f"{kind}.data"), "-p", pid]
    elif mode == "spy":
        command = ["py-spy", "record", "-r", "2000", "--native", "-f", "raw", "-o", str(OUT / f"{kind}.spy"), "-p", pid]
    else:
        return None
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the measured run starts
    return profiler


if __name__ == "__main__":
    main()
