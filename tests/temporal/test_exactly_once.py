"""Activity retries never duplicate a signal: an activity that fails right after storing
its signal is retried by Temporal, and the user still gets exactly one row and one delivery."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from temporalio.api.enums.v1 import EventType

from signalhub.store import connect as connect_db
from tests.support import connect
from tests.temporal.conftest import WorkerProcess
from tests.temporal.helpers import inbox, no_more_signals, result_of, signals_until_final, start_document

pytestmark = pytest.mark.temporal

FAILING = "send_status_update_activity,send_progress_signal_activity,send_completion_signal_activity"


@pytest.fixture(scope="module")
def failing_worker(database_url, temporal_server, artifacts):
    """A worker of its own (own task queue) whose signal activities fail once after storing."""
    process = WorkerProcess(
        database_url, temporal_server.address, artifacts, f"fail-after-store-{uuid.uuid4().hex[:8]}",
        SIGNALHUB_TEST_FAIL_AFTER_STORE=FAILING,
    ).start()
    yield process
    assert process.stop() == 0, "SIGTERM should stop the worker cleanly"


async def test_signal_stored_before_a_forced_failure_is_delivered_and_kept_once(
    failing_worker, temporal_client, api, token, user_id, workflow_id, tmp_path, database_url
):
    path = tmp_path / "retry.txt"
    path.write_text("A document whose every signal activity fails once, after storing its signal.")
    ws, _ = await connect(api.ws, token(user_id))

    handle, _ = await start_document(temporal_client, path, user_id, workflow_id, task_queue=failing_worker.task_queue)
    await result_of(handle, timeout=90)
    signals = await signals_until_final(ws, timeout=60)

    # Every signal activity really failed after its store and ran a second time.
    second_attempts: Counter[str] = Counter()
    scheduled = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            if attributes.attempt == 2:
                assert "forced failure after store" in attributes.last_failure.message
                second_attempts[scheduled[attributes.scheduled_event_id]] += 1
    assert second_attempts == Counter(
        {"send_status_update_activity": 1, "send_progress_signal_activity": 4, "send_completion_signal_activity": 1}
    )

    types = [s["signal_type"] for s in signals]
    assert types == ["status_update", "progress", "progress", "progress", "progress", "completion"]
    assert len({s["id"] for s in signals}) == 6
    assert await no_more_signals(ws, 1.5)
    await ws.close()

    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, idempotency_key FROM workflow_signals WHERE workflow_id = $1 ORDER BY seq", workflow_id
        )
    finally:
        await conn.close()
    assert [str(r["id"]) for r in rows] == [s["id"] for s in signals]
    assert len({r["idempotency_key"] for r in rows}) == 6
    assert len(await inbox(api, token(user_id), workflow_id)) == 6
