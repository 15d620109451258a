"""bench --cluster: results.json -> REPORT.md and reconnect.png (the reconnect curve)."""

from __future__ import annotations

from pathlib import Path

BIN = 0.05  # seconds per bar of the reconnect-attempt histogram


def _s(x, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f} s"


def write_cluster_report(results: dict, out: Path, *, plots: bool = True) -> None:
    sizes, machine = results["sizes"], results["machine_before"]
    kill, broker = results["kill"], results["broker_restart"]
    spread = ", ".join(f"{name} {n:,}" for name, n in results["spread"].items())
    lines = [
        "# signalhub cluster benchmark",
        "",
        f"Profile **{results['profile']}**, measured {machine['time_utc']} UTC in {results['wall_seconds']:.0f} s "
        "with `python -m bench --cluster" + ("" if results["profile"] == "quick" else f" --{results['profile']}") + "`.",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB; load average before / after "
        f"{machine['load_average']} / {results['machine_after']['load_average']}. Everything below shares these cores:",
        "  PostgreSQL, nats-server, HAProxy, three `signalhub api` processes, the emitter and the client processes.",
        "- The cluster is `make cluster`'s (signalhub.dev.cluster): HAProxy with `deploy/haproxy.cfg` (least connections, "
        "health checks every second), NATS as the broker, no Temporal (the emitter stores and publishes as a worker does)."
        + ("" if sizes.get("balancers", 1) == 1 else
           f" {sizes['balancers']} HAProxy processes with that config share the sockets (clients spread over them "
           "round robin, as DNS would): one process needs two descriptors per socket and may hold at most "
           "`ulimit -Hn` (20,000 here)."),
        f"- {results['sockets']['ok']:,} sockets through the balancer ({sizes['sockets_per_user']} per user, "
        f"{sizes['sockets'] // sizes['sockets_per_user']:,} users), opened in {results['connect_seconds']:.1f} s "
        f"({results['sockets']['failed']} failed). Each phase offers {sizes['rate']:,} signals/s for "
        f"{sizes['phase_seconds']:.0f} s; the action comes a third of the way in.",
        "- Clients resume with `?since=<last seq>` and wait a full-jitter backoff, uniform in "
        "[0, min(30 s, 0.5 s · 2^attempt)), before each reconnect (docs/client.md). Lost and duplicated are counted "
        "per socket against the rows PostgreSQL stored for its user.",
        "",
        f"Spread by the balancer: {spread}.",
        "",
        "While the sockets were opened (an idle socket each; the balancer's share is per socket it proxies):",
        "",
        "| process | RSS after | RSS growth per socket | CPU per handshake |",
        "|---|---|---|---|",
        *(f"| {name} | {results['rss_mb'][name]:.0f} MB | {usage['rss_kb']:.1f} KB | {usage['cpu_ms']:.2f} ms |"
          for name, usage in results["per_socket"].items()),
        "",
        "| phase | signals stored | deliveries expected | lost | duplicated | out of order | sockets cut off | "
        "all back after | back p50 / p95 | failed reconnects |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, phase in (("instance api1 killed (SIGKILL)", kill), ("broker restarted", broker)):
        lines.append(
            f"| {name} | {phase['stored']:,} | {phase['expected_deliveries']:,} | {phase['lost']} | "
            f"{phase['duplicates']} | {phase['out_of_order']} | {phase['moved']:,} | {_s(phase['all_back_seconds'])} | "
            f"{_s(phase['back_p50_seconds'])} / {_s(phase['back_p95_seconds'])} | {phase['failed_attempts']} |")
    peak = _peak(kill["attempt_seconds"])
    lines += [
        "",
        f"Every instance hears every signal from the broker: a fourth instance outside the balancer, holding no "
        f"socket, spent {results['bystander_cpu_us_per_signal']:.1f} µs of CPU per signal emitted (receiving and "
        "discarding it), over both phases, after subtracting what it spends idle.",
        "",
        f"Stored: {results['bytes_per_stored_signal']:.0f} bytes per signal in `workflow_signals` with its "
        "indexes (the emitter's small `data`; after VACUUM).",
        "",
        f"The broker restart (stop, then start on the same port) took {broker['action_seconds']:.2f} s; sockets stay "
        "open through it and each instance re-reads what its sockets missed once it has re-subscribed.",
        f"Reconnect attempts after the kill peaked at {peak} per {BIN * 1000:.0f} ms "
        f"({len(kill['attempt_seconds']):,} attempts for {kill['moved']:,} sockets): the jitter spreads them "
        "over the first backoff window instead of one burst.",
        "",
        "Plot: `reconnect.png` (sockets per instance as HAProxy counts them; reconnect attempts and sockets back "
        "after the kill). Raw numbers: `results.json`.",
        "",
    ]
    (out / "REPORT.md").write_text("\n".join(lines))
    if plots:
        _plot(results, out / "reconnect.png")


def _peak(times: list[float]) -> int:
    counts: dict[int, int] = {}
    for t in times:
        counts[int(t // BIN)] = counts.get(int(t // BIN), 0) + 1
    return max(counts.values(), default=0)


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kill = results["kill"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True)
    samples = [(t, counts) for t, counts in kill["instances"] if -2 <= t <= 6]
    for name in results["spread"]:
        top.plot([t for t, _ in samples], [c.get(name, 0) for _, c in samples], label=name)
    top.axvline(0, color="grey", linestyle="--", linewidth=1)
    top.set_ylabel("sockets (HAProxy)")
    top.set_title(f"{results['sockets']['ok']:,} sockets; api1 killed with SIGKILL at t = 0")
    top.legend()
    attempts = [t for t in kill["attempt_seconds"] if t <= 6]
    if attempts:
        bins = [i * BIN for i in range(int(max(attempts) / BIN) + 2)]
        bottom.hist(attempts, bins=bins, color="tab:orange", alpha=0.7, label=f"reconnect attempts per {BIN * 1000:.0f} ms")
    bottom.set_ylabel("attempts")
    bottom.set_xlabel("seconds since the kill")
    back = kill["back_seconds"]
    if back:
        share = bottom.twinx()
        share.plot(back, [100 * (i + 1) / kill["moved"] for i in range(len(back))], color="tab:blue",
                   label="cut-off sockets back (%)")
        share.set_ylabel("% back")
        share.set_ylim(0, 105)
        share.legend(loc="lower right")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
