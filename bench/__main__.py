"""`python -m bench [--quick | --full | --tiny] [--systems ...] [--only ...] [--fanout MODE] [--out DIR]`;
`python -m bench --cluster [...]`: three instances behind HAProxy instead (bench/cluster.py)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import scenarios
from .config import PROFILES
from .inbox import inbox
from .loadgen import ClientPool
from .machine import describe_machine
from .report import write_report
from .systems import bench_database, running

SCENARIOS = ("idle", "fanout", "stalled", "latency", "ingest", "inbox")
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    for name in PROFILES:
        size.add_argument(f"--{name}", dest="profile", action="store_const", const=name)
    parser.set_defaults(profile="quick")
    parser.add_argument("--systems", default="signalhub,cm,socketio",
                        help='comma-separated; an entry may carry variant options, e.g. "signalhub,cm:deflate=0" '
                             "runs signalhub and only the deflate-off ConnectionManager")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--variants", default=None,
                        help='extra runs (idle + fan-out), e.g. "signalhub:ws=wsproto;cm:deflate=0" ("" for none)')
    parser.add_argument("--idle-steps", default=None, help='idle connections held, e.g. "1000,2000" (default: the profile\'s)')
    parser.add_argument("--fanout", choices=("both", "broadcast", "targeted"), default="both",
                        help="which fan-out modes the fanout scenario runs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"),
                        help="a PostgreSQL server to create the bench database on (default: embedded)")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--cluster", action="store_true",
                        help="the cluster run (bench/cluster.py) instead; results in OUT/cluster")
    return parser.parse_args(argv)


def _guard(results: dict, key: str, run) -> None:
    started = time.monotonic()
    print(f"  {key} ...", flush=True)
    try:
        results[key] = run()
    except Exception as exc:  # recorded in the report; the other measurements still run
        traceback.print_exc()
        results[key] = {"error": f"{type(exc).__name__}: {exc}"}
    print(f"  {key}: {time.monotonic() - started:.1f}s", flush=True)


def parse_variant(text: str) -> tuple[str, dict]:
    """"signalhub:ws=wsproto,deflate=1" -> ("signalhub", {"ws": "wsproto", "deflate": "1"})."""
    kind, _, rest = text.partition(":")
    options = dict(item.split("=", 1) for item in rest.split(",") if item)
    unknown = set(options) - {"ws", "deflate", "direct"}
    if unknown:
        raise SystemExit(f"unknown variant option(s) {sorted(unknown)} in {text!r}")
    return kind.strip(), options


def run_system(kind: str, options: dict, database_url: str, sizes, only: set[str], log_dir: Path,
               pool: ClientPool, stalled_pool: ClientPool, fanout_modes: str = "both") -> dict:
    out: dict = {"kind": kind, "ws": options.get("ws", "auto"), "deflate": options.get("deflate", "default")}
    with running(kind, log_dir, database_url=database_url, **options) as system:
        out["label"] = system.label
        out["variant"] = system.is_variant
        print(f"{system.label} (port {system.port})", flush=True)
        if "idle" in only:
            _guard(out, "idle", lambda: scenarios.idle_connections(system, pool, sizes))
        if "fanout" in only and fanout_modes in ("both", "broadcast"):
            _guard(out, "fanout_broadcast", lambda: scenarios.fanout(system, pool, sizes, broadcast=True))
        if "fanout" in only and fanout_modes in ("both", "targeted"):
            _guard(out, "fanout_targeted", lambda: scenarios.fanout(system, pool, sizes, broadcast=False))
        if system.is_variant:
            return out  # variants: memory and fan-out only
        if "stalled" in only:
            _guard(out, "stalled", lambda: scenarios.stalled_reader(system, pool, stalled_pool, sizes))
        if "latency" in only:
            out["latency"] = []
            for rate in sizes.latency_rates:
                holder: dict = {}
                _guard(holder, f"latency@{rate}", lambda rate=rate: scenarios.latency(system, pool, sizes, rate))
                out["latency"].append(holder[f"latency@{rate}"])
            if kind == "signalhub":
                for path, rates in (("batch", sizes.latency_rates), ("http", sizes.latency_rates[:2])):
                    out[f"latency_{path}"] = []
                    for rate in rates:
                        holder = {}
                        _guard(holder, f"latency_{path}@{rate}",
                               lambda rate=rate, path=path: scenarios.latency(system, pool, sizes, rate, path=path))
                        out[f"latency_{path}"].append(holder[f"latency_{path}@{rate}"])
        if "ingest" in only:
            _guard(out, "ingest", lambda: scenarios.ingest(system, pool, sizes))
            if kind == "signalhub":
                _guard(out, "ingest_batch", lambda: scenarios.ingest(system, pool, sizes, path="batch"))
                _guard(out, "ingest_http_batch", lambda: scenarios.ingest(system, pool, sizes, path="http_batch"))
                _guard(out, "ingest_http_many", lambda: scenarios.ingest(system, pool, sizes, path="http_many"))
                # Group commit needs company: many emits in flight at once (as many workers do).
                _guard(out, "ingest_group_commit", lambda: scenarios.ingest(
                    system, pool, sizes, concurrency=sizes.group_commit_concurrency, measure_latency=True))
    return out


def _send_floor(sockets: int) -> dict:
    """`python -m bench.send_floor` to as many sockets as the fan-out rows use, in a process
    of its own (its own sockets and readers)."""
    command = [sys.executable, "-m", "bench.send_floor", "--sockets", str(sockets), "--repeats", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True,
                          cwd=Path(__file__).resolve().parent.parent)
    return json.loads(done.stdout)


def _split_systems(text: str) -> list[str]:
    """"signalhub,cm:deflate=0,ws=wsproto,socketio" -> ["signalhub", "cm:deflate=0,ws=wsproto", "socketio"]:
    an item with "=" and no ":" continues the previous entry's options."""
    entries: list[str] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        if "=" in item and ":" not in item and entries:
            entries[-1] += "," + item
        else:
            entries.append(item)
    return entries


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cluster:
        from . import cluster

        cluster.run(args.profile, args.database_url, args.out / "cluster", plots=not args.no_plots)
        return 0
    sizes = PROFILES[args.profile]
    if args.variants is not None:
        sizes = dataclasses.replace(sizes, variants=tuple(x for x in args.variants.split(";") if x.strip()))
    if args.idle_steps:
        sizes = dataclasses.replace(sizes, idle_steps=tuple(int(x) for x in args.idle_steps.split(",")))
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    # "kind" or "kind:option=value" (a variant run instead of the kind's default run).
    entries = [parse_variant(s) for s in _split_systems(args.systems)]
    systems = [kind for kind, _ in entries]
    args.out.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="signalhub-bench-logs-"))
    started = time.time()
    results: dict = {"profile": sizes.name, "sizes": dataclasses.asdict(sizes),
                     "machine_before": describe_machine(), "systems": [], "inbox": None}
    print(f"bench: profile {sizes.name}, logs in {log_dir}", flush=True)
    with bench_database(args.database_url) as database_url:
        pool = ClientPool(sizes.client_processes)
        stalled_pool = ClientPool(1)
        try:
            variants = list(entries)
            variants += [v for v in map(parse_variant, sizes.variants) if v[0] in systems]
            for kind, options in variants:
                try:
                    results["systems"].append(
                        run_system(kind, options, database_url, sizes, only, log_dir, pool, stalled_pool, args.fanout))
                except Exception as exc:
                    traceback.print_exc()
                    results["systems"].append({"kind": kind, "variant": bool(options), **options,
                                               "error": f"{type(exc).__name__}: {exc}"})
        finally:
            pool.stop()
            stalled_pool.stop()
        if "fanout" in only:
            # What one loopback send() costs here: the floor under any targeted delivery.
            _guard(results, "send_floor", lambda: _send_floor(sizes.fanout_connections))
        if "inbox" in only:
            print("inbox ...", flush=True)
            try:
                results["inbox"] = inbox(database_url, sizes, log_dir)
            except Exception as exc:
                traceback.print_exc()
                results["inbox"] = {"error": f"{type(exc).__name__}: {exc}"}
    results["machine_after"] = describe_machine()
    results["wall_seconds"] = time.time() - started
    json_path = args.out / "results.json"
    json_path.write_text(json.dumps(results, indent=2, default=str))
    write_report(results, args.out, plots=not args.no_plots)
    print(f"bench: wrote {json_path} and {args.out / 'REPORT.md'} in {results['wall_seconds']:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
