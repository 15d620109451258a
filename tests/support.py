"""Helpers for tests that talk to real servers over real sockets.

Every server started here binds 127.0.0.1 and is stopped by the test run;
every wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websockets

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s")


async def async_wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s")


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "BROKER_", "WEBSOCKET_", "SIGNALHUB_"))}
    env.update(
        DATABASE_URL=database_url,
        SUPABASE_JWT_SECRET=SECRET,
        PYTHONUNBUFFERED="1",
        BROKER_URL="postgres",
    )
    env.update(extra)
    return env


class ApiProcess:
    """`signalhub api` in its own OS process on a free port.

    `options` are extra command-line options; with `ssl_context` (trusting the
    server's certificate) the URLs are https/wss and the health check uses it.
    Subclasses serve another app: they override `command()`, `health_path`
    and `ws_path`.
    """

    health_path = "/healthz"
    ws_path = "/ws"

    def __init__(
        self,
        database_url: str,
        log_dir: Path,
        *options: str,
        port: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.env = base_env(database_url, **env)
        self.options = list(options)
        self.ssl_context = ssl_context
        self.log_path = log_dir / f"api-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"{'wss' if self.ssl_context else 'ws'}://127.0.0.1:{self.port}{self.ws_path}"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}{self.health_path}", timeout=2, context=self.ssl_context) as response:
                return response.status == 200
        except OSError:
            return False

    def command(self) -> list[str]:
        return [str(BIN / "signalhub"), "api", "--port", str(self.port), *self.options]

    def start(self, timeout: float = 40.0) -> ApiProcess:
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"api exited early:\n{self.log()[-3000:]}")
            if self._healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"api not healthy within {timeout}s:\n{self.log()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_api(database_url: str, log_dir: Path, **env: str) -> Iterator[ApiProcess]:
    api = ApiProcess(database_url, log_dir, **env).start()
    try:
        yield api
    finally:
        api.stop()


def new_user() -> uuid.UUID:
    return uuid.uuid4()


async def recv_json(ws, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def connect(url: str, token: str, **params: Any):
    """Open a WebSocket and read the `connected` hello; returns (ws, hello)."""
    query = "&".join([f"token={token}"] + [f"{k}={v}" for k, v in params.items()])
    ws = await websockets.connect(f"{url}?{query}", open_timeout=10, max_queue=None)
    hello = await recv_json(ws)
    assert hello["type"] == "connected", hello
    return ws, hello


async def collect_signals(ws, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Read until `count` signal frames arrived (control frames are skipped)."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"got {len(out)} of {count} signals")
        message = await recv_json(ws, remaining)
        if "signal_type" in message:
            out.append(message)
    return out


async def no_message(ws, within: float = 0.5) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), within)
    except TimeoutError:
        return True
    return False


def emit_in_subprocess(database_url: str, *emits: dict[str, Any], broker_url: str = "postgres") -> list[dict]:
    """Emit signals from a separate OS process (as a worker would); returns id/seq/created."""
    code = (
        "import asyncio, json, sys\n"
        "from signalhub.settings import Settings\n"
        "from signalhub.runtime import open_runtime\n"
        "async def main():\n"
        "    out = []\n"
        "    async with open_runtime(Settings(), run_migrations=False, pool_size=2) as rt:\n"
        "        for e in json.loads(sys.argv[1]):\n"
        "            r = await rt.service.emit(e['user_id'], e['signal_type'], e['workflow_id'], e.get('data'),\n"
        "                                      idempotency_key=e.get('idempotency_key'))\n"
        "            out.append({'id': str(r.signal.id), 'seq': r.signal.seq, 'created': r.created})\n"
        "    print(json.dumps(out))\n"
        "asyncio.run(main())\n"
    )
    env = base_env(database_url, BROKER_URL=broker_url)
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(list(emits), default=str)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query string (which the embedded server's URLs already have)."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def database_name(url: str) -> str:
    """The database a PostgreSQL URL names (`…/NAME?host=/socket/dir` included: the embedded server's form)."""
    return urllib.parse.urlsplit(url).path.lstrip("/")


async def admin_sql(server_url: str, sql: str, *args: Any) -> None:
    """Run one statement as the server's admin, on a connection of its own."""
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def terminate_backends(server_url: str, database: str) -> None:
    """Kill every session on `database` but this one (what a failover or an admin does)."""
    await admin_sql(
        server_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
