"""`/metrics`: the seed's signal metrics, read from a real API process and from live objects."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from signalhub import metrics
from signalhub.connection import Connection
from signalhub.hub import Hub
from signalhub.sendqueue import Frame
from signalhub.signals import NewSignal
from signalhub.store import connect as connect_db
from tests.support import async_wait_until, collect_signals, connect, running_api


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(client: httpx.AsyncClient, base: str) -> dict[tuple[str, tuple], float]:
    response = await client.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    return samples(response.text)


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_delivered_signal_is_counted_by_type_with_an_emit_to_send_latency_sample(api, token, service_token):
    user = uuid.uuid4()
    async with httpx.AsyncClient() as client:
        before = await scrape(client, api.base)
        ws, _ = await connect(api.ws, token(user))
        try:
            response = await client.post(
                f"{api.base}/api/v1/signals",
                headers={"Authorization": f"Bearer {service_token}"},
                json={"user_id": str(user), "signal_type": "completion", "workflow_id": "wf-metrics",
                      "data": {"result": {"ok": True}}},
                timeout=10,
            )
            assert response.status_code == 201
            await collect_signals(ws, 1)

            async def sampled() -> bool:
                after = await scrape(client, api.base)
                return value(after, "signalhub_emit_to_send_seconds_count") > value(
                    before, "signalhub_emit_to_send_seconds_count"
                )

            await async_wait_until(sampled, timeout=15, what="an emit->send latency sample")
            after = await scrape(client, api.base)
            assert value(after, "signalhub_connections") >= 1
        finally:
            await ws.close()

    delivered = "signalhub_signals_delivered_total"
    assert value(after, delivered, signal_type="completion") == value(before, delivered, signal_type="completion") + 1
    stored = "signalhub_signals_stored_total"
    assert value(after, stored, signal_type="completion") >= value(before, stored, signal_type="completion") + 1
    for name in ("signalhub_send_queue_frames", "signalhub_send_queue_max_frames",
                 "signalhub_broker_reconnects_total", "signalhub_progress_coalesced_total",
                 "signalhub_frames_dropped_total", "signalhub_persist_failures_total"):
        assert any(key[0] == name for key in after), name


async def test_broker_reconnect_is_counted_after_the_listen_connection_is_killed(database_url, artifacts):
    with running_api(database_url, artifacts) as server:
        async with httpx.AsyncClient() as client:
            assert value(await scrape(client, server.base), "signalhub_broker_reconnects_total") == 0
            admin = await connect_db(database_url)
            try:
                # A real failure: the server side ends the API's LISTEN session.
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            assert killed >= 1

            async def reconnected() -> bool:
                return value(await scrape(client, server.base), "signalhub_broker_reconnects_total") >= 1

            await async_wait_until(reconnected, timeout=30, what="the broker reconnect counter")


def _signal_frame(seq: int, signal_type: str, workflow_id: str = "wf") -> Frame:
    data = {"progress": 0.5} if signal_type == "progress" else {"status": "running"}
    head, tail = NewSignal.create(uuid.uuid4(), signal_type, workflow_id, data).wire_parts()
    return Frame(seq, f"{head}{seq}{tail}")


async def _closed(code: int, reason: str) -> None:
    return None


async def test_queue_depth_coalescing_and_dropped_frames_are_read_from_live_connections():
    hub = Hub(max_connections=10, max_connections_per_user=10)
    metrics.watch(hub)

    class NeverSent:  # the sender task is not started: frames stay queued
        def write_frame(self, frame: bytes) -> bool:
            return False

        def abort(self) -> None:
            pass

        async def send_text(self, text: str) -> None:
            raise AssertionError("not started")

        close = staticmethod(_closed)

    conns = [
        Connection(uuid.uuid4(), None, NeverSent(), queue_limit=100, resume_limit=10)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    for conn in conns:
        hub.add(conn)
    before = samples(generate_latest(REGISTRY).decode())

    for seq in range(1, 4):
        conns[0].enqueue(_signal_frame(seq, "status_update"))
    conns[1].enqueue(_signal_frame(1, "progress"))
    conns[1].enqueue(_signal_frame(2, "progress"))  # replaces the unsent older progress

    during = samples(generate_latest(REGISTRY).decode())
    assert value(during, "signalhub_send_queue_frames") - value(before, "signalhub_send_queue_frames") == 4
    assert value(during, "signalhub_send_queue_max_frames") >= 3
    assert value(during, "signalhub_progress_coalesced_total") == value(before, "signalhub_progress_coalesced_total") + 1

    conns[0].request_close(4408, "too slow")
    after = samples(generate_latest(REGISTRY).decode())
    assert value(after, "signalhub_frames_dropped_total") == value(before, "signalhub_frames_dropped_total") + 3
    for conn in conns:
        hub.remove(conn)


def test_emit_to_send_histogram_buckets_are_cumulative_and_a_bound_counts_in_its_own_bucket():
    from signalhub.metrics import FanoutStats

    stats = FanoutStats()
    for seconds in (0.0005, 0.001, 0.003, 7.0):
        stats.observe_latency(seconds)
    [histogram] = [m for m in stats.collect() if m.name == "signalhub_emit_to_send_seconds"]
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")}
    assert buckets["0.001"] == 2  # 0.0005 and exactly 0.001
    assert buckets["0.005"] == 3
    assert buckets["2.5"] == 3 and buckets["+Inf"] == 4
    assert [s.value for s in histogram.samples if s.name.endswith("_count")] == [4]
    assert [s.value for s in histogram.samples if s.name.endswith("_sum")] == [pytest.approx(7.0045)]
