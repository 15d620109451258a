"""signalhub exactly as `signalhub api` serves it (same `server.serve`, same
settings from the environment), plus the bench routes.

`/bench/fanout` and `/bench/emit` hand frames straight to the Hub, the same
call the broker makes for every stored signal: this measures fan-out without
the database (like the in-process peers). Persistence is measured through
`SignalService.emit` / `POST /api/v1/signals` by the emitter process.
"""

from __future__ import annotations

import asyncio
import os

from fastapi import FastAPI, Request

from signalhub.wire import broker_frame

from .common import ProduceClock, in_background, paced_rounds, padding, parse_args, raise_fd_limit, signal_text


def _next_seq(app: FastAPI, user: str) -> int:
    seqs = app.state.bench_seqs
    seqs[user] = seqs.get(user, 0) + 1
    return seqs[user]


def _frame(app: FastAPI, user: str, data: dict) -> str:
    # The broker hands the hub finished text (encoded once, by the emitter's process);
    # here it is encoded by the same function the peers use, so every system pays the same.
    seq = _next_seq(app, user)
    return broker_frame(user, seq, signal_text(seq, data))


def _prepare(app: FastAPI, rounds: int, size: int) -> None:
    users = list(app.state.signalhub.connections.status()["connected_users"])
    pads = [padding(size) for _ in range(rounds)]  # one per round, as in _produce
    app.state.bench_prepared = ProduceClock.timed(lambda: [
        [_frame(app, user, {"status": "running", "pad": pad}) for user in users] for pad in pads
    ])


async def _deliver(app: FastAPI) -> None:
    hub = app.state.signalhub.connections
    prepared, app.state.bench_prepared = app.state.bench_prepared, []
    for frames in prepared:
        for frame in frames:
            hub.dispatch(frame)
        await asyncio.sleep(0)  # let the senders run, as a broker callback would


async def _produce(app: FastAPI, rounds: int, size: int, rate: float | None) -> None:
    hub = app.state.signalhub.connections
    users = list(hub.status()["connected_users"])
    async for _ in paced_rounds(rounds, rate):
        data = {"status": "running", "pad": padding(size)}
        # The broker hands the hub finished frames: produce them first (timed apart), then deliver.
        frames = ProduceClock.timed(lambda data=data: [_frame(app, user, data) for user in users])
        for frame in frames:
            hub.dispatch(frame)
        await asyncio.sleep(0)  # let the senders run, as a broker callback would


def add_bench_routes(app: FastAPI) -> FastAPI:
    app.state.bench_seqs = {}
    existing = list(app.router.routes)

    @app.post("/bench/prepare", include_in_schema=False)
    async def prepare(request: Request) -> dict:
        body = await request.json()
        _prepare(request.app, int(body["rounds"]), int(body.get("size", 200)))
        return {"prepared": True}

    @app.post("/bench/fanout", include_in_schema=False)
    async def fanout(request: Request) -> dict:
        body = await request.json()
        if body.get("prepared"):
            in_background(_deliver(request.app))
        else:
            in_background(_produce(request.app, int(body["rounds"]), int(body.get("size", 200)), body.get("rate")))
        return {"started": True}

    @app.post("/bench/emit", include_in_schema=False)
    async def emit(request: Request) -> dict:
        body = await request.json()
        request.app.state.signalhub.connections.dispatch(_frame(request.app, body["user"], body["data"]))
        return {"ok": True}

    @app.get("/bench/memory", include_in_schema=False)
    async def memory(request: Request) -> dict:
        """Top allocation sites (only when started with PYTHONTRACEMALLOC set).

        `?mark=1` keeps a snapshot; `?diff=1` then lists what grew since it,
        grouped by the allocating call stack (per idle socket: divide by N)."""
        import tracemalloc

        if not tracemalloc.is_tracing():
            return {"tracing": False}
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        if request.query_params.get("mark"):
            request.app.state.bench_memory_mark = snapshot
            return {"tracing": True, "marked": True}
        mark = getattr(request.app.state, "bench_memory_mark", None)
        if request.query_params.get("diff") and mark is not None:
            stats = snapshot.compare_to(mark, request.query_params.get("by", "traceback"))
            return {"tracing": True, "total": sum(s.size_diff for s in stats), "top": [
                f"{s.size_diff / 1024:.0f} KiB {s.count_diff} "
                + " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in reversed(s.traceback))
                for s in stats[:60]
            ]}
        top = snapshot.statistics("lineno")[:40]
        return {"tracing": True, "top": [f"{s.size / 1024:.0f} KiB {s.count} {s.traceback}" for s in top]}

    @app.get("/bench/stats", include_in_schema=False)
    async def stats(request: Request) -> dict:
        return {"connections": request.app.state.signalhub.connections.total, "produce_cpu_seconds": ProduceClock.seconds}

    # Ahead of the web page's catch-all mount at "/".
    app.router.routes[:] = [r for r in app.router.routes if r not in existing] + existing
    return app


def main() -> None:
    import signalhub.api.app as app_module
    from signalhub.server import serve
    from signalhub.settings import Settings

    args = parse_args()
    raise_fd_limit()
    create_app = app_module.create_app
    app_module.create_app = lambda settings=None: add_bench_routes(create_app(settings))
    if os.environ.get("BENCH_FASTAPI_WS") == "1":
        # The comparison variant: /ws served by FastAPI's router, without the WebSocketBypass (hub.asgi).
        from signalhub.fastapi import SignalHub

        SignalHub.asgi = lambda self, app, **_: app
    if args.ws != "auto":
        os.environ["SIGNALHUB_WS_IMPL"] = args.ws
    if args.deflate != "default":
        os.environ["SIGNALHUB_WS_DEFLATE"] = "true" if args.deflate == "1" else "false"
    serve(Settings(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
