"""The embedded PostgreSQL: `signalhub db-url` reports it only while it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from signalhub.dev.embedded import embedded_postgres, running_embedded_url

BIN = Path(sys.executable).parent


def _db_url(data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"SIGNALHUB_DATA_DIR": str(data_dir)}
    return subprocess.run([str(BIN / "signalhub"), "db-url"], env=env, capture_output=True, text=True, timeout=60)


def test_db_url_names_the_running_embedded_server_and_refuses_when_it_is_stopped(tmp_path):
    stopped = _db_url(tmp_path)
    assert stopped.returncode == 2 and "is not running" in stopped.stderr

    server = embedded_postgres(tmp_path, cleanup_mode="delete")
    try:
        assert running_embedded_url(tmp_path) == server.get_uri("postgres")
        running = _db_url(tmp_path)
        assert running.returncode == 0 and running.stdout.strip() == server.get_uri("postgres")
    finally:
        server.cleanup()
    assert running_embedded_url(tmp_path) is None
