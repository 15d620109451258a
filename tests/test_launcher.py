"""`signalhub run` (what `make run` starts): every command it prints works as printed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _printed_commands(banner: str) -> list[str]:
    """The indented shell commands of the banner, continuation lines joined."""
    lines = banner.split("then try:", 1)[1].split("Ctrl-C", 1)[0].splitlines()
    commands, current = [], ""
    for line in lines:
        if not line.strip():
            continue
        current += line.strip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        commands.append(current)
        current = ""
    return commands


@pytest.fixture
def stack(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "SUPABASE_JWT_SECRET", "BROKER_URL", "TEMPORAL_ADDRESS"}}
    env["SIGNALHUB_DATA_DIR"] = str(tmp_path / "data")
    out = tmp_path / "run.out"
    proc = subprocess.Popen(
        [str(BIN / "signalhub"), "run", "--no-temporal", "--port", str(port)],
        cwd=ROOT, env=env, stdout=out.open("wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while "Ctrl-C stops everything" not in out.read_text():
        assert proc.poll() is None, out.read_text()
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.2)
    yield proc, out.read_text(), tmp_path / "data"
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def _sh(env_file: Path, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"source {env_file} && {command}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_run_prints_commands_that_work_as_printed(stack):
    proc, banner, data_dir = stack
    env_file = Path(re.search(r"source (\S+)", banner).group(1))
    assert env_file == data_dir / "env"
    commands = _printed_commands(banner)
    status = _sh(env_file, commands[0])
    assert '"total_connections":0' in status.stdout, status

    tail_cmd = next(c for c in commands if "signalhub tail" in c).split("#")[0]
    tail = subprocess.Popen(["bash", "-c", f"source {env_file} && exec {tail_cmd}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        send = next(c for c in commands if "send-test" in c)
        deadline = time.monotonic() + 20
        while '"total_connections":1' not in _sh(env_file, commands[0]).stdout:
            assert time.monotonic() < deadline, "tail did not connect"
            time.sleep(0.2)
        sent = _sh(env_file, send)
        assert '"created":true' in sent.stdout, sent
    finally:
        time.sleep(1.0)
        tail.send_signal(signal.SIGINT)
        tail_out, _ = tail.communicate(timeout=10)
    assert '"type": "connected"' in tail_out and '"message": "Test signal"' in tail_out

    inbox = _sh(env_file, next(c for c in commands if "/api/v1/inbox/signals" in c))
    assert '"message":"Test signal"' in inbox.stdout, inbox

    psql_line = next(c for c in commands if c.startswith("psql"))
    bundled = psql_line.split("# or: ", 1)[1].replace("…", "SELECT COUNT(*) FROM workflow_signals;")
    variants = [bundled] + ([psql_line.split("#")[0]] if shutil.which("psql") else [])
    for variant in variants:
        counted = _sh(env_file, variant)
        assert counted.returncode == 0 and re.search(r"^\s*1\s*$", counted.stdout, re.M), (variant, counted)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert "stopping" in (data_dir.parent / "run.out").read_text()


def test_run_keeps_its_secret_and_demo_user_across_restarts(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    from signalhub.dev.launcher import _read_or_create

    first = _read_or_create(data / "jwt-secret", lambda: "one")
    second = _read_or_create(data / "jwt-secret", lambda: "two")
    assert first == second == "one"
    assert oct((data / "jwt-secret").stat().st_mode & 0o777) == "0o600"
