"""Run sizes. `--quick` (default) fits a CI job; `--full` is the documented long run."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sizes:
    name: str
    idle_steps: tuple[int, ...]        # idle connections held, measured cumulatively
    fanout_connections: int            # sockets receiving every fan-out round
    fanout_rounds: int                 # signals per socket (kept under the send-queue limit)
    fanout_repeats: int                # runs per fan-out mode; the median run is reported
    stalled_healthy: int               # healthy sockets beside one that stopped reading
    stalled_rate: float                # rounds per second offered during the stall test
    stalled_seconds: float
    stalled_payload: int               # bytes per frame (fills the stalled socket's buffers sooner)
    latency_rates: tuple[int, ...]     # signals per second
    latency_seconds: float
    latency_users: int
    ingest_seconds: float
    ingest_concurrency: int
    group_commit_concurrency: int      # emits in flight in the group-commit ingest run (service path)
    inbox_rows: tuple[int, ...]        # total rows in the table
    inbox_user_rows: int               # rows of the measured user (the rest: noise users)
    inbox_queries: int
    client_processes: int
    # Extra runs (idle memory + fan-out only), "kind:option=value,...": ws=<uvicorn ws implementation>,
    # deflate=0|1 (per-message deflate). The main runs use each system's defaults.
    variants: tuple[str, ...] = field(default=())
    settle_seconds: float = 2.0        # pause before reading RSS (lets the server finish accepting)


# signalhub's default is its own protocol (src/signalhub/transport/protocol.py); `ws=websockets-sansio`
# is uvicorn's own protocol on the same websockets sans-I/O core (no pre-encoded frames, no lean idle state).
DEFAULT_VARIANTS = (
    "signalhub:ws=websockets-sansio",
    "signalhub:deflate=1",
    "signalhub:ws=websockets",
    "signalhub:ws=wsproto",
    "signalhub:direct=0",
    "cm:deflate=0",
)

TINY = Sizes(
    name="tiny", idle_steps=(20, 40), fanout_connections=20, fanout_rounds=5, fanout_repeats=1,
    stalled_healthy=5, stalled_rate=50, stalled_seconds=1.0, stalled_payload=2000,
    latency_rates=(50,), latency_seconds=1.0, latency_users=5,
    ingest_seconds=1.0, ingest_concurrency=4, group_commit_concurrency=64,
    inbox_rows=(2000,), inbox_user_rows=500, inbox_queries=20, client_processes=2,
    settle_seconds=0.3,
)

QUICK = Sizes(
    name="quick", idle_steps=(1000, 5000, 10000), fanout_connections=1000, fanout_rounds=100, fanout_repeats=5,
    stalled_healthy=50, stalled_rate=200, stalled_seconds=8.0, stalled_payload=8000,
    latency_rates=(100, 1000, 5000), latency_seconds=3.0, latency_users=100,
    ingest_seconds=5.0, ingest_concurrency=32, group_commit_concurrency=1024,
    inbox_rows=(1_000_000,), inbox_user_rows=100_000, inbox_queries=300, client_processes=4,
    variants=DEFAULT_VARIANTS,
)

FULL = Sizes(
    name="full", idle_steps=(1000, 5000, 10000), fanout_connections=5000, fanout_rounds=200, fanout_repeats=3,
    stalled_healthy=500, stalled_rate=100, stalled_seconds=20.0, stalled_payload=8000,
    latency_rates=(100, 1000, 5000), latency_seconds=10.0, latency_users=1000,
    ingest_seconds=20.0, ingest_concurrency=64, group_commit_concurrency=1024,
    inbox_rows=(1_000_000, 10_000_000), inbox_user_rows=100_000, inbox_queries=2000, client_processes=6,
    variants=DEFAULT_VARIANTS,
)

PROFILES = {s.name: s for s in (TINY, QUICK, FULL)}
