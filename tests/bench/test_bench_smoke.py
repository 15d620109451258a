"""`python -m bench --tiny`: the harness drives every system end to end and writes its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_tiny_bench_run_measures_every_system_and_writes_the_report(server_url: str, tmp_path: Path):
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--variants", "signalhub:ws=wsproto,deflate=1", "--out", str(out),
         "--database-url", server_url],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    report = (out / "REPORT.md").read_text()
    for plot in ("fanout.png", "idle_memory.png", "latency.png"):
        assert (out / plot).stat().st_size > 0

    systems = {s["kind"]: s for s in results["systems"] if not s.get("variant")}
    assert set(systems) == {"signalhub", "cm", "socketio"}
    (variant,) = [s for s in results["systems"] if s.get("variant")]
    assert variant["label"] == "signalhub [ws=wsproto, deflate=on]"
    assert variant["fanout_targeted"]["delivered"] == variant["fanout_targeted"]["expected"] > 0
    for kind, system in systems.items():
        assert "error" not in system, (kind, system)
        assert system["idle"]["steps"][-1]["held"] == results["sizes"]["idle_steps"][-1], kind
        for key in ("fanout_broadcast", "fanout_targeted"):
            assert system[key]["delivered"] == system[key]["expected"] > 0, (kind, key, system[key])
        assert system["latency"][0]["delivered"] == system["latency"][0]["emitter"]["emitted"] > 0, kind
        assert system["ingest"]["delivered"] > 0, kind

    hub = systems["signalhub"]
    assert hub["stalled"]["delivered"] == hub["stalled"]["expected"]
    for key, mode in (("latency", "service"), ("latency_batch", "batch"), ("latency_http", "http")):
        point = hub[key][0]
        assert point["emit_mode"] == mode and point["delivered"] == point["emitter"]["emitted"] > 0, point
    assert hub["ingest"]["stored_per_second"] > 0 and hub["ingest_batch"]["stored_per_second"] > 0
    # The measured user: one in ten unread, one in seven archived (the unread count is of non-archived ones).
    rows = results["sizes"]["inbox_user_rows"]
    assert results["inbox"][0]["user_unread"] == sum(1 for g in range(1, rows + 1) if g % 10 == 0 and g % 7)
    assert results["inbox"][0]["database"]["counts"]["p99_ms"] > 0 and "Inbox state" in report
    for key in ("ingest_http_batch", "ingest_http_many"):  # many signals per request, each stored and delivered
        assert hub[key]["per_request"] > 1 and hub[key]["emitter"]["errors"] == 0, hub[key]
        assert hub[key]["delivered"] == hub[key]["emitter"]["emitted"] > hub[key]["emitter"]["requests"], hub[key]
    assert "through HTTP (batch emit)" in report and "through HTTP (many-recipient emit)" in report
    assert "FastAPI-docs ConnectionManager" in report and "python-socketio" in report and "## Targets" in report
    # The floor under a targeted delivery, and what the service path's CPU per signal allows.
    assert results["send_floor"]["ways"]["socket.send"]["cpu_us_per_call"] > 0
    assert "one loopback `send()` alone" in report and "µs of CPU per signal, so" in report


def test_tiny_bench_run_measures_signalhub_embedded_in_a_host_app_with_and_without_hub_asgi(server_url: str, tmp_path: Path):
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--systems", "embedded", "--only", "idle,fanout",
         "--variants", "embedded:direct=0", "--idle-steps", "10,30", "--out", str(out), "--database-url", server_url,
         "--no-plots"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    labels = [s["label"] for s in results["systems"]]
    assert labels == ["signalhub in a host FastAPI app [hub.asgi]",
                      "signalhub in a host FastAPI app [/ws through FastAPI routing]"]
    for system in results["systems"]:
        assert system["idle"]["steps"][-1]["held"] == 30, system
        assert system["fanout_targeted"]["delivered"] == system["fanout_targeted"]["expected"] > 0, system
