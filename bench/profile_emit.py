"""The emitting process alone, optionally under py-spy: `python -m bench.profile_emit [service|batch] [spy|none]`.

Two runs of 8 s each of the bench emitter (1,024 emits in flight to 1,000 users,
as fast as it goes) against a fresh bench database, with no API and no socket
clients: CPU per emit of the emitting process alone. With `spy`, the second run
is recorded by py-spy (300 Hz, raw stacks) into /tmp/signalhub-profile/emit-<mode>.txt.
Needs PostgreSQL at $TEST_DATABASE_URL (default 127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .emitter import EmitPlan, Emitter
from .systems import bench_database, new_users

OUT = Path("/tmp/signalhub-profile")


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "service"
    spy = len(sys.argv) > 2 and sys.argv[2] == "spy"
    OUT.mkdir(exist_ok=True)
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with bench_database(server) as db:
        users = new_users(1000)
        for run in range(2):
            emitter = Emitter(EmitPlan(mode=mode, users=users, count=200_000, rate=None, concurrency=1024,
                                       database_url=db, timeout=8)).start()
            profiler = None
            if spy and run == 1:
                time.sleep(1.5)  # past connecting and warming up
                py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                profiler = subprocess.Popen(
                    [py_spy, "record", "-p", str(emitter.process.pid), "-r", "300", "-d", "5", "-f", "raw",
                     "-o", str(OUT / f"emit-{mode}.txt"), "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = emitter.result()
            if profiler is not None:
                profiler.wait(30)
            if "error" in result:
                raise SystemExit(f"emitter failed: {result['error']}")
            us = 1e6 * result["cpu_seconds"] / max(result["emitted"], 1)
            print(f"run {run + 1}: {result['emitted']:,} emitted in {result['seconds']:.1f} s "
                  f"({result['achieved_rate']:,.0f}/s), emitter CPU {us:.1f} µs per emit", flush=True)


if __name__ == "__main__":
    main()
