"""results.json -> REPORT.md (tables, ratios, targets) and PNG plots."""

from __future__ import annotations

import math
from pathlib import Path

CM = "cm"


def _num(x, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, (int, float)):
        return f"{x:,.{digits}f}"
    return str(x)


def _main_systems(results: dict) -> list[dict]:
    return [s for s in results["systems"] if not s.get("variant") and "error" not in s]


def _by_kind(results: dict) -> dict[str, dict]:
    return {s["kind"]: s for s in _main_systems(results)}


def _rate(system: dict, key: str) -> float | None:
    value = system.get(key)
    if isinstance(value, dict) and "deliveries_per_second" in value:
        return value["deliveries_per_second"]
    return None


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}×"


def _variant(results: dict, kind: str, option: str, value: str) -> dict | None:
    for s in results["systems"]:
        if s.get("variant") and s.get("kind") == kind and s.get(option) == value and "error" not in s:
            return s
    return None


def _idle_at(system: dict, n: int) -> dict | None:
    for step in (system.get("idle") or {}).get("steps", []):
        if step["target"] == n:
            return step
    return None


INGEST_KEYS = ("ingest", "ingest_batch", "ingest_group_commit", "ingest_http_batch", "ingest_http_many")


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows."""
    kinds = _by_kind(results)
    hub, cm = kinds.get("signalhub", {}), kinds.get(CM, {})
    rows = []
    biggest = max(results["sizes"]["idle_steps"])
    step = _idle_at(hub, biggest)
    if step:
        ok = step["held"] >= 10_000 and step["kb_per_connection"] <= 15
        rows.append(("≥ 10,000 authenticated connections, ≤ 15 KB RSS each",
                     f"{step['held']:,} held, {step['kb_per_connection']:.1f} KB each",
                     "met" if ok else "missed"))
    if step:
        rows.append(("≤ 12 KB RSS per idle socket", f"{step['kb_per_connection']:.1f} KB",
                     "met" if step["kb_per_connection"] <= 12 else "missed"))
    for key, what in (("fanout_broadcast", "broadcast"), ("fanout_targeted", "targeted")):
        a, b = _rate(hub, key), _rate(cm, key)
        if a and b:
            rows.append((f"fan-out ({what}) ≥ 3× ConnectionManager", f"{a / b:.2f}×",
                         "met" if a / b >= 3 else "missed"))
    plain = _variant(results, CM, "deflate", "0")
    a, b = _rate(hub, "fanout_targeted"), _rate(plain or {}, "fanout_targeted")
    if a and b:
        rows.append(("fan-out (targeted) ≥ 1.5× ConnectionManager with deflate off", f"{a / b:.2f}×",
                     "met" if a / b >= 1.5 else "missed"))
    deliver = (hub.get("fanout_targeted") or {}).get("deliver_cpu_us_per_delivery")
    if deliver is not None:
        floor = _send_floor_us(results)
        floor_text = f" (one loopback `send()` alone: {floor:.1f} µs, `bench.send_floor`)" if floor else ""
        rows.append(("API CPU per targeted delivery (frames arriving pre-encoded) ≤ 5 µs", f"{deliver:.1f} µs{floor_text}",
                     "met" if deliver <= 5 else "missed"))
    for key in ("latency", "latency_batch"):
        for point in hub.get(key) or []:
            if point.get("offered_rate") == 1000 and "p99_ms" in point:
                achieved = (point.get("emitter") or {}).get("achieved_rate", 0)
                ok = point["p99_ms"] <= 25 and achieved >= 950
                rows.append((f"end-to-end p99 ≤ 25 ms at 1,000 signals/s, persisted (`{point['emit_mode']}` path)",
                             f"p99 {point['p99_ms']:.1f} ms at {achieved:,.0f}/s achieved", "met" if ok else "missed"))
    for key, what in (("ingest_http_batch", "batch"), ("ingest_http_many", "many-recipient")):
        point = hub.get(key)
        if isinstance(point, dict) and "stored_per_second" in point:
            stored, delivered = point["stored_per_second"] or 0, point["delivered_per_second"] or 0
            ok = min(stored, delivered) >= 10_000
            rows.append((f"≥ 10,000 signals/s stored and delivered through HTTP ({what} emit)",
                         f"{stored:,.0f}/s stored, {delivered:,.0f}/s delivered", "met" if ok else "missed"))
    point = hub.get("ingest_group_commit")
    if isinstance(point, dict) and point.get("delivered"):
        rate = min(point["stored_per_second"] or 0, point["delivered_per_second"] or 0)
        rows.append(("≥ 30,000 signals/s persisted and delivered through the service path (group commit)",
                     f"{rate:,.0f}/s; {_cpu_budget(point, results)}", "met" if rate >= 30_000 else "missed"))
    inbox = results.get("inbox")
    if isinstance(inbox, list):
        for row in inbox:
            if row["table_rows"] >= 1_000_000:
                page, unread = row["database"]["first_page"]["p99_ms"], row["database"]["unread_count"]["p99_ms"]
                rows.append((f"inbox first page p99 ≤ 5 ms at {row['table_rows']:,} rows", f"{page:.2f} ms (database)",
                             "met" if page <= 5 else "missed"))
                rows.append((f"unread count p99 ≤ 2 ms at {row['table_rows']:,} rows", f"{unread:.2f} ms (database)",
                             "met" if unread <= 2 else "missed"))
                counts = row["database"].get("counts")
                if counts:
                    rows.append((f"inbox counts p99 ≤ 2 ms at {row['table_rows']:,} rows",
                                 f"{counts['p99_ms']:.2f} ms (database)", "met" if counts["p99_ms"] <= 2 else "missed"))
    stalled = hub.get("stalled")
    if isinstance(stalled, dict) and "delivered_fraction" in stalled:
        ok = stalled["delivered_fraction"] >= 0.999
        rows.append(("healthy clients unaffected by a stalled reader",
                     f"{stalled['delivered_fraction'] * 100:.1f}% delivered in {stalled['seconds']:.1f}s "
                     f"(offered over {stalled['ideal_seconds']:.0f}s)", "met" if ok else "missed"))
    return rows


def _send_floor_us(results: dict) -> float | None:
    """CPU per bare loopback `send()` of one frame, back to back (None when not measured)."""
    floor = results.get("send_floor")
    if not isinstance(floor, dict) or "ways" not in floor:
        return None
    return floor["ways"]["socket.send"]["cpu_us_per_call"]


def _cpu_budget(point: dict, results: dict) -> str:
    """CPU per delivered signal by process, and the rate all cores would allow at that cost."""
    n = point["delivered"]
    parts = {"emitter": point.get("emitter_cpu_seconds"), "PostgreSQL": point.get("postgres_cpu_seconds"),
             "API": point.get("server_cpu_seconds")}
    us = {name: 1e6 * seconds / n for name, seconds in parts.items() if seconds is not None}
    total = sum(us.values())
    cores = results["machine_before"].get("cores") or 1
    return (" + ".join(f"{name} {value:.0f}" for name, value in us.items()) + f" = {total:.0f} µs of CPU per signal, "
            f"so {cores} cores allow at most {cores * 1e6 / total:,.0f}/s before the socket clients' share")


def render(results: dict) -> str:
    m = results["machine_before"]
    lines = [
        "# signalhub benchmark report",
        "",
        f"Profile **{results['profile']}**, measured {m['time_utc']} UTC in {results.get('wall_seconds', 0):.0f} s, "
        f"at commit `{m.get('git_commit', 'unknown')}`.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gib']} GiB; Linux {m['kernel']}; Python {m['python']}",
        f"- load average before / after: {m['load_average']} / {results.get('machine_after', {}).get('load_average')}",
        "- every system, the load generator (several client processes), the emitter and PostgreSQL share these cores",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        "Fairness: the peers keep nothing; signalhub stores every signal it delivers in the latency and",
        "ingest rows. The fan-out, idle and stalled-reader rows drive every system in-process (a bench",
        "route hands frames to signalhub's Hub exactly as its broker does, without the database).",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in targets(results)]
    main = _main_systems(results)
    kinds = _by_kind(results)
    cm = kinds.get(CM, {})

    lines += ["", "## Idle connections (RSS growth of the server process per connection)", ""]
    steps = results["sizes"]["idle_steps"]
    lines += ["| system | " + " | ".join(f"{n:,}: KB/conn" for n in steps) + " | held at max | RSS at max |",
              "|---|" + "---|" * (len(steps) + 2)]
    for s in results["systems"]:
        idle = s.get("idle")
        if not isinstance(idle, dict) or "steps" not in idle:
            continue
        cells = []
        for n in steps:
            st = _idle_at(s, n)
            cells.append(_num(st["kb_per_connection"], 1) if st else "-")
        last = idle["steps"][-1] if idle["steps"] else {}
        lines.append(f"| {s.get('label', s['kind'])} | " + " | ".join(cells)
                     + f" | {_num(last.get('held'))} | {_num(last.get('rss_mb'), 0)} MB |")

    lines += ["", "## Fan-out (deliveries per second; ratio against the ConnectionManager)", "",
              f"{results['sizes']['fanout_connections']:,} sockets × {results['sizes']['fanout_rounds']} rounds. "
              "Broadcast: all sockets belong to one user. Targeted: one user per socket, one signal per user per round. "
              f"The median of {results['sizes'].get('fanout_repeats', 1)} runs per mode (every run is in results.json).",
              "",
              "Every system first produces all frames of a run (encodes the signal JSON; in production the "
              "emitting process does this and the broker hands signalhub finished text), then delivers them: "
              "deliveries/s and server CPU per delivery are measured over the delivery only, and the CPU spent "
              "producing is reported beside it (produce + deliver).",
              "",
              "| system | broadcast/s | × CM | targeted/s | × CM | server CPU µs per delivery (delivering): "
              "broadcast / targeted | targeted µs: produce + deliver |",
              "|---|---|---|---|---|---|---|"]

    def cpu_us(system: dict, key: str) -> str:
        per_cpu = (system.get(key) or {}).get("deliveries_per_cpu_second")
        return f"{1e6 / per_cpu:.1f}" if per_cpu else "-"

    def split_us(system: dict, key: str) -> str:
        run = system.get(key) or {}
        produce, deliver = run.get("produce_cpu_us_per_delivery"), run.get("deliver_cpu_us_per_delivery")
        return f"{produce:.1f} + {deliver:.1f}" if produce is not None and deliver is not None else "-"

    for s in results["systems"]:
        if "fanout_broadcast" not in s and "fanout_targeted" not in s:
            continue
        b, t = _rate(s, "fanout_broadcast"), _rate(s, "fanout_targeted")
        lines.append(f"| {s.get('label', s['kind'])} | {_num(b)} | {_ratio(b, _rate(cm, 'fanout_broadcast'))} | "
                     f"{_num(t)} | {_ratio(t, _rate(cm, 'fanout_targeted'))} | "
                     f"{cpu_us(s, 'fanout_broadcast')} / {cpu_us(s, 'fanout_targeted')} | "
                     f"{split_us(s, 'fanout_targeted')} |")

    lines += ["", "## A stalled reader", "",
              "One socket of the user stops reading; the others should keep receiving every frame.", "",
              "| system | healthy sockets | delivered to healthy | took (offered over) | healthy deliveries/s | stalled socket |",
              "|---|---|---|---|---|---|"]
    for s in main:
        st = s.get("stalled")
        if not isinstance(st, dict) or "delivered" not in st:
            continue
        after = st.get("stalled_client_dropped_after_seconds")
        if st.get("stalled_client_dropped_by_server"):
            closed_text = "cut off by the server" + (f" after {after:.1f}s" if after is not None else "")
        else:
            closed_text = "still held 20s after the healthy sockets were done"
        if st.get("slow_consumer_closes"):
            closed_text += " (4408 requested; its queue was dropped)"
        lines.append(f"| {s['label']} | {st['healthy']} | {st['delivered']:,} of {st['expected']:,} "
                     f"({st['delivered_fraction'] * 100:.1f}%) | {st['seconds']:.1f}s ({st['ideal_seconds']:.0f}s) | "
                     f"{_num(st['healthy_deliveries_per_second'])} | {closed_text} |")

    lines += ["", "## End-to-end latency (emit in a separate process -> receipt on the socket)", "",
              "signalhub paths: `service` = `SignalService.emit` (store + NOTIFY, as a worker does; concurrent "
              "emits share one statement and commit); `batch` = `SignalStore.insert_many` driven directly with "
              "group commit, up to 3 batches in flight (what queued while a write was in flight goes out as one "
              "statement); `http` = `POST /api/v1/signals`. "
              "Peers: `peer` = `POST /bench/emit` (nothing stored).", "",
              "| system | path | offered/s | achieved/s | delivered | p50 ms | p95 ms | p99 ms | max ms |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in main:
        for key in ("latency", "latency_batch", "latency_http"):
            for p in s.get(key) or []:
                if "p50_ms" not in p:
                    lines.append(f"| {s['label']} | {key} | - | - | - | error: {p.get('error')} |||| ")
                    continue
                e = p.get("emitter") or {}
                lines.append(f"| {s['label']} | {p['emit_mode']} | {p['offered_rate']:,} | {_num(e.get('achieved_rate'))} | "
                             f"{p['delivered']:,} of {e.get('emitted', 0):,} | {_num(p['p50_ms'], 2)} | "
                             f"{_num(p['p95_ms'], 2)} | {_num(p['p99_ms'], 2)} | {_num(p['max_ms'], 1)} |")

    lines += ["", "## Ingest (emitter as fast as it can, fixed time)", "",
              "| system | path | emitted/s | stored/s | delivered/s | p50 / p99 ms emit → socket | CPU s: server / emitter / postgres |",
              "|---|---|---|---|---|---|---|"]
    for s, i in [(s, s.get(k)) for s in main for k in INGEST_KEYS]:
        if not isinstance(i, dict) or "emitted_per_second" not in i:
            continue
        lat = i.get("latency") or {}
        lat_text = f"{_num(lat['p50_ms'], 1)} / {_num(lat['p99_ms'], 1)}" if lat else "-"
        per = f", {i['per_request']} signals per request" if i.get("per_request", 1) > 1 else ""
        lines.append(f"| {s['label']} | {i['emit_mode']} (concurrency {i['concurrency']}{per}) | "
                     f"{_num(i['emitted_per_second'])} | {_num(i['stored_per_second'])} | {_num(i['delivered_per_second'])} | "
                     f"{lat_text} | {_num(i.get('server_cpu_seconds'), 1)} / {_num(i.get('emitter_cpu_seconds'), 1)} / "
                     f"{_num(i.get('postgres_cpu_seconds'), 1)} |")

    inbox = results.get("inbox")
    if isinstance(inbox, list):
        lines += ["", "## Inbox queries", "",
                  "| table rows | user rows (unread) | first page p50 / p99 ms (DB) | unread count p50 / p99 ms (DB) | "
                  "first page p50 / p99 ms (HTTP) | unread count p50 / p99 ms (HTTP) |",
                  "|---|---|---|---|---|---|"]
        for r in inbox:
            d, h = r["database"], r["http"]
            lines.append(
                f"| {r['table_rows']:,} | {r['user_rows']:,} ({r['user_unread']:,}) | "
                f"{d['first_page']['p50_ms']:.2f} / {d['first_page']['p99_ms']:.2f} | "
                f"{d['unread_count']['p50_ms']:.2f} / {d['unread_count']['p99_ms']:.2f} | "
                f"{h['first_page']['p50_ms']:.2f} / {h['first_page']['p99_ms']:.2f} | "
                f"{h['unread_count']['p50_ms']:.2f} / {h['unread_count']['p99_ms']:.2f} |")
        if all("counts" in r["database"] for r in inbox):
            lines += ["", "Inbox state (the measured user: one in seven signals archived; read ones are seen):", "",
                      "| table rows | counts p50 / p99 ms (DB) | counts p50 / p99 ms (HTTP) | archived tab p50 / p99 ms (DB) |",
                      "|---|---|---|---|"]
            for r in inbox:
                d, h = r["database"], r["http"]
                lines.append(
                    f"| {r['table_rows']:,} | {d['counts']['p50_ms']:.2f} / {d['counts']['p99_ms']:.2f} | "
                    f"{h['counts']['p50_ms']:.2f} / {h['counts']['p99_ms']:.2f} | "
                    f"{d['archived_page']['p50_ms']:.2f} / {d['archived_page']['p99_ms']:.2f} |")
    elif isinstance(inbox, dict):
        lines += ["", f"Inbox: error {inbox.get('error')}"]

    errors = [(s.get("label", s["kind"]), k, v["error"]) for s in results["systems"]
              for k, v in s.items() if isinstance(v, dict) and "error" in v]
    errors += [(s["kind"], "system", s["error"]) for s in results["systems"] if "error" in s]
    if errors:
        lines += ["", "## Errors during the run", ""] + [f"- {a} / {b}: {c}" for a, b, c in errors]
    lines += ["", "Plots: `fanout.png`, `idle_memory.png`, `latency.png`. Raw numbers: `results.json`.", ""]
    return "\n".join(lines)


def plots(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = [s for s in results["systems"] if "fanout_broadcast" in s]
    if systems:
        fig, ax = plt.subplots(figsize=(8, 4))
        labels = [s.get("label", s["kind"]) for s in systems]
        x = range(len(systems))
        ax.bar([i - 0.2 for i in x], [_rate(s, "fanout_broadcast") or 0 for s in systems], 0.4, label="broadcast")
        ax.bar([i + 0.2 for i in x], [_rate(s, "fanout_targeted") or 0 for s in systems], 0.4, label="targeted")
        ax.set_xticks(list(x), labels, rotation=15, ha="right", fontsize=8)
        ax.set_ylabel("deliveries / s")
        ax.set_title("Fan-out")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "fanout.png", dpi=100)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for s in results["systems"]:
        idle = s.get("idle")
        if isinstance(idle, dict) and idle.get("steps"):
            ax.plot([st["held"] for st in idle["steps"]], [st["kb_per_connection"] for st in idle["steps"]],
                    marker="o", label=s.get("label", s["kind"]))
    ax.axhline(15, color="grey", linestyle="--", linewidth=1, label="target 15 KB")
    ax.set_xlabel("idle connections held")
    ax.set_ylabel("RSS KB / connection")
    ax.set_title("Memory per idle connection")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "idle_memory.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for s in _main_systems(results):
        for key in ("latency", "latency_batch", "latency_http"):
            points = [p for p in s.get(key) or [] if "p99_ms" in p]
            if points:
                name = s["label"] + {"latency": "", "latency_batch": " (batched writes)", "latency_http": " (HTTP emit)"}[key]
                ax.plot([p["offered_rate"] for p in points], [p["p99_ms"] for p in points], marker="o", label=name)
    ax.axhline(25, color="grey", linestyle="--", linewidth=1, label="target 25 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered signals / s")
    ax.set_ylabel("p99 emit -> receipt (ms)")
    ax.set_title("End-to-end latency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=100)
    plt.close(fig)


def write_report(results: dict, out: Path, *, plots: bool = True) -> None:
    (out / "REPORT.md").write_text(render(results))
    if plots:
        globals()["plots"](results, out)
