"""Starting and stopping the systems under test, and the bench database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil

from .peers.common import raise_fd_limit

SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
MODULES = {
    "signalhub": "bench.peers.signalhub_app",
    "cm": "bench.peers.connection_manager",
    "socketio": "bench.peers.socketio_app",
    "embedded": "bench.peers.embedded_app",
}
LABELS = {
    "signalhub": "signalhub",
    "cm": "FastAPI-docs ConnectionManager",
    "socketio": "python-socketio (ASGI)",
    "embedded": "signalhub in a host FastAPI app",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SystemProcess:
    """One system under test: `kind` (signalhub | cm | socketio) on a free port."""

    def __init__(self, kind: str, log_dir: Path, *, database_url: str = "", ws: str = "auto",
                 deflate: str = "default", direct: str = "1", env: dict | None = None):
        self.kind = kind
        self.ws = ws
        self.deflate = deflate
        self.direct = direct
        self.port = free_port()
        self.database_url = database_url
        self.log_path = log_dir / f"{kind}-{ws}-{deflate}-{self.port}.log"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SUPABASE_", "BROKER_", "WEBSOCKET_", "SIGNALHUB_"))}
        self.env.update(
            PYTHONUNBUFFERED="1",
            DATABASE_URL=database_url,
            SUPABASE_JWT_SECRET=SECRET,
            BROKER_URL="postgres",
            SIGNALHUB_MAX_CONNECTIONS="50000",
            SIGNALHUB_MAX_CONNECTIONS_PER_USER="50000",
        )
        if direct == "0":  # /ws through FastAPI's routing (signalhub before DirectWebSocket; embedded without hub.asgi)
            self.env["BENCH_FASTAPI_WS"] = "1"
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None

    @property
    def is_variant(self) -> bool:
        return self.ws != "auto" or self.deflate != "default" or self.direct == "0"

    @property
    def label(self) -> str:
        options = ([f"ws={self.ws}"] if self.ws != "auto" else []) + (
            [f"deflate={'on' if self.deflate == '1' else 'off'}"] if self.deflate != "default" else []) + (
            ["/ws through FastAPI routing"] if self.direct == "0" else
            ["hub.asgi"] if self.kind == "embedded" else [])
        return LABELS[self.kind] + (f" [{', '.join(options)}]" if options else "")

    def start(self, timeout: float = 60.0) -> SystemProcess:
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen(
            [sys.executable, "-m", MODULES[self.kind], "--port", str(self.port), "--ws", self.ws,
             "--deflate", self.deflate],
            cwd=root, env=self.env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench/stats", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.kind} did not start within {timeout}s")

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def post(self, path: str, body: dict, timeout: float = 30.0) -> dict:
        import json

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        import json

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench/stats", timeout=10) as r:
            return json.loads(r.read())

    def connections(self) -> int:
        return int(self.stats()["connections"])

    def produce_cpu_seconds(self) -> float:
        """CPU the system spent producing frames (the rest of its CPU in a run delivered them)."""
        return float(self.stats().get("produce_cpu_seconds", 0.0))

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@contextlib.contextmanager
def running(kind: str, log_dir: Path, **kw) -> Iterator[SystemProcess]:
    system = SystemProcess(kind, log_dir, **kw).start()
    try:
        yield system
    finally:
        system.stop()


def new_users(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


# -- the bench database ------------------------------------------------------------


@contextlib.contextmanager
def bench_database(server_url: str | None) -> Iterator[str]:
    """A fresh, migrated database on `server_url` (or on an embedded PostgreSQL), dropped afterwards."""
    from signalhub.migrations import scratch_database

    embedded = None
    if not server_url:
        from signalhub.dev.embedded import embedded_postgres

        embedded = embedded_postgres(Path(tempfile.mkdtemp(prefix="signalhub-bench-pg-")), cleanup_mode="delete")
        server_url = embedded.get_uri("postgres")
    try:
        with scratch_database(server_url, "signalhub_bench") as url:
            yield url
    finally:
        if embedded is not None:
            embedded.cleanup()


raise_fd_limit()  # the bench process itself holds pipes and sockets for every worker
