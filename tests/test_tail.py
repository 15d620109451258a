"""`signalhub tail --workflow`: a socket that follows one workflow, from the command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.support import base_env

BIN = Path(sys.executable).parent


def test_tail_with_a_workflow_prints_only_that_workflows_signals(api, token, service_token):
    user = uuid.uuid4()
    env = base_env("postgresql://unused@127.0.0.1:1/unused")
    tail = subprocess.Popen(
        [str(BIN / "signalhub"), "tail", "--token", token(user), "--url", api.ws, "--workflow", "doc-a"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    service = {"Authorization": f"Bearer {service_token}"}
    try:
        deadline = time.monotonic() + 20
        while str(user) not in httpx.get(f"{api.base}/ws/status", headers=service).json()["connected_users"]:
            assert time.monotonic() < deadline, "tail did not connect"
            time.sleep(0.1)
        items = [{"user_id": str(user), "signal_type": "note", "workflow_id": w, "data": {"n": i}}
                 for i, w in enumerate(["doc-b", "doc-a", "doc-b", "doc-a"])]
        httpx.post(f"{api.base}/api/v1/signals/batch", json={"signals": items}, headers=service).raise_for_status()
        time.sleep(1.0)
    finally:
        tail.send_signal(signal.SIGINT)
        out, _ = tail.communicate(timeout=10)
    printed = [json.loads(line) for line in out.splitlines()]
    assert [(m["workflow_id"], m["seq"]) for m in printed if "signal_type" in m] == [("doc-a", 2), ("doc-a", 4)]
