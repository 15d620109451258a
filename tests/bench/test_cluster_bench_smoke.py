"""`python -m bench --cluster --tiny`: the cluster run kills an instance and restarts the broker
behind HAProxy, counts what every socket got, and writes its report and reconnect plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from signalhub.dev.balancer import haproxy_binary
from tests.support import ROOT


def test_tiny_cluster_bench_counts_nothing_lost_and_plots_the_reconnect_curve(server_url: str, tmp_path: Path):
    try:
        haproxy_binary()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--cluster", "--tiny", "--out", str(out), "--database-url", server_url],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((out / "cluster" / "results.json").read_text())
    assert (out / "cluster" / "reconnect.png").stat().st_size > 0
    assert "instance api1 killed" in (out / "cluster" / "REPORT.md").read_text()

    assert results["sockets"] == {"ok": 60, "failed": 0}
    assert all(n > 0 for n in results["spread"].values()) and len(results["spread"]) == 3
    kill, broker = results["kill"], results["broker_restart"]
    assert kill["moved"] == results["spread"]["api1"] and kill["never_back"] == 0
    assert broker["moved"] == 0
    for phase in (kill, broker):
        assert phase["stored"] > 0 and phase["received"] >= phase["expected_deliveries"]
        assert (phase["lost"], phase["duplicates"], phase["out_of_order"]) == (0, 0, 0)
