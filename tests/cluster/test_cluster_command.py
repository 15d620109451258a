"""`make cluster` (python -m signalhub.dev.cluster): one command starts the broker,
three API instances and HAProxy on 127.0.0.1, serves WebSockets through the
balancer, and Ctrl-C stops every process it started."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

from signalhub.dev.balancer import haproxy_binary
from tests.delivery.harness import StreamClient
from tests.support import base_env, free_port

READY = "Ctrl-C stops everything."


def read_until_ready(proc: subprocess.Popen, timeout: float = 90.0) -> str:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        out.append(line)
        if line.strip() == READY:
            return "".join(out)
    proc.kill()
    raise AssertionError(f"the cluster did not come up:\n{''.join(out)}")


async def test_cluster_command_serves_through_the_balancer_and_ctrl_c_stops_every_process(
    database_url, tmp_path: Path, token, service_token
):
    try:
        haproxy_binary()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "signalhub.dev.cluster", "--port", str(port), "--no-temporal"],
        env=base_env(database_url, SIGNALHUB_DATA_DIR=str(tmp_path)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = read_until_ready(proc)
        children = psutil.Process(proc.pid).children(recursive=True)
        names = {" ".join(c.cmdline()[:2]) for c in children}
        assert sum("signalhub api" in " ".join(c.cmdline()) for c in children) == 3
        assert any("haproxy" in n for n in names) and any("nats-server" in n for n in names), names
        assert f"http://127.0.0.1:{port}" in banner and "HAProxy stats" in banner

        user = uuid.uuid4()
        client = StreamClient(token(user))
        await client.open(f"ws://127.0.0.1:{port}/ws")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ws/send-test", method="POST",
            data=json.dumps({"user_id": str(user), "message": "through the balancer"}).encode(),
            headers={"Authorization": f"Bearer {service_token}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()
        assert await client.read_until(1, timeout=20)
        assert client.signals[0]["data"]["message"] == "through the balancer"
        await client.close()

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "٨٠٠٠"], "not a port number"),  # Arabic-Indic digits: int() would take them
        (["--port", "0"], "not a port number"),
        (["--port", "65536"], "not a port number"),
        (["--port", "-1"], "not a port number"),
        (["--broker", "kafka://127.0.0.1:9092"], "BROKER_URL must be"),
        (["--broker", "memory"], "memory reaches no other process"),
    ],
)
def test_cluster_command_refuses_bad_arguments_before_starting_anything(args, message, tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-m", "signalhub.dev.cluster", *args],
        env=base_env("postgresql://127.0.0.1:1/none", SIGNALHUB_DATA_DIR=str(tmp_path)),
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert message in run.stderr
    assert not (tmp_path / "cluster-logs").exists()
