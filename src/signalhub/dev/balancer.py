"""HAProxy (Debian's package) in front of several API instances, with deploy/haproxy.cfg.

The process runs in the foreground (`-db`), binds 127.0.0.1 only, and reads
every address from the environment variables the config names; its stats
CSV tells which instances it considers up and how many sockets each holds.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: The configuration `docs/scaling.md` recommends, used as it is by `make cluster` and the tests.
CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "haproxy.cfg"


def readiness_path(config: Path = CONFIG) -> str:
    """The path HAProxy checks (`http-check send meth GET uri …`): the config is its one home."""
    for line in config.read_text().splitlines():
        words = line.split()
        if words[:2] == ["http-check", "send"] and "uri" in words:
            return words[words.index("uri") + 1]
    raise ValueError(f"{config}: no `http-check send … uri PATH` line")


def haproxy_binary() -> str:
    """`haproxy` from PATH or Debian's /usr/sbin (apt-get install haproxy)."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
    if found is None:
        raise RuntimeError("haproxy not found: install it (Debian/Ubuntu: apt-get install haproxy)")
    return found


@dataclass(frozen=True)
class BackendServer:
    """One API instance as HAProxy sees it: `status` is UP, DOWN, MAINT, … (with a
    transition suffix such as "DOWN 1/2"); `sessions` are its current connections;
    `check` is the last health check's result (L7OK: the HTTP check got its 200)."""

    name: str
    status: str
    sessions: int
    total_sessions: int
    check: str

    @property
    def up(self) -> bool:
        return self.status.startswith("UP")


class Haproxy:
    """HAProxy on `port` (stats on `stats_port`) in front of `backends` ("host:port", at most three
    with the shipped config). `start` returns once the frontend accepts connections."""

    def __init__(self, port: int, stats_port: int, backends: list[str], log_path: Path,
                 *, config: Path = CONFIG) -> None:
        if not 1 <= len(backends) <= 3:
            raise ValueError("deploy/haproxy.cfg names three API instances")
        self.port, self.stats_port = port, stats_port
        self.config, self.log_path = config, log_path
        self.env = {**os.environ, "SIGNALHUB_LB_BIND": f"127.0.0.1:{port}",
                    "SIGNALHUB_LB_STATS": f"127.0.0.1:{stats_port}"}
        # An unused slot points at a closed port; HAProxy keeps it DOWN.
        for i, address in enumerate(backends + ["127.0.0.1:9"] * (3 - len(backends)), start=1):
            self.env[f"SIGNALHUB_API_{i}"] = address
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.stats_port}/"

    def check_config(self) -> None:
        result = subprocess.run([haproxy_binary(), "-c", "-q", "-f", str(self.config)], env=self.env,
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"{self.config} is not valid:\n{result.stdout}{result.stderr}")

    def start(self, timeout: float = 20.0) -> Haproxy:
        self.check_config()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([haproxy_binary(), "-db", "-f", str(self.config)], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited early:\n{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                self.servers()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"haproxy not answering within {timeout}s")

    def servers(self) -> list[BackendServer]:
        """The API instances and their state, from the stats CSV."""
        with urllib.request.urlopen(f"{self.stats_url};csv", timeout=5) as response:
            text = response.read().decode()
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return [
            BackendServer(row["svname"], row["status"], int(row["scur"] or 0), int(row["stot"] or 0),
                          row["check_status"])
            for row in rows
            if row["pxname"] == "signalhub_api" and row["svname"] not in ("FRONTEND", "BACKEND")
        ]

    def wait_up(self, count: int, timeout: float = 30.0) -> list[BackendServer]:
        """Block until exactly `count` instances pass their health checks."""
        deadline = time.monotonic() + timeout
        servers: list[BackendServer] = []
        while time.monotonic() < deadline:
            servers = self.servers()
            if sum(s.up for s in servers) == count:
                return servers
            time.sleep(0.1)
        raise TimeoutError(f"haproxy: wanted {count} instance(s) up, have {[(s.name, s.status) for s in servers]}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: HAProxy's immediate stop
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
