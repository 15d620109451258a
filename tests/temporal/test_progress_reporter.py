"""`progress_reporter` inside one long activity, on the user's own worker (signalhub's
activities added with `SignalActivities(service).all()`): coalesced, the last value
always sent, and a retried attempt neither repeats nor goes back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.worker import Worker

from signalhub.runtime import Runtime, open_runtime
from signalhub.settings import Settings
from signalhub.store import connect as connect_db
from signalhub.temporal.activities import SignalActivities
from tests.support import async_wait_until, connect
from tests.temporal.conftest import TEST_WORKFLOWS, WorkerProcess
from tests.temporal.helpers import inbox, no_more_signals, result_of, signals_until_final
from tests.temporal.user_activities import SPAN, IngestActivities, IngestJob
from tests.temporal.user_workflows import IngestWorkflow

pytestmark = pytest.mark.temporal


def shown(fraction: float) -> float:
    """Where the activity's own progress lands in the workflow's."""
    return round(SPAN[0] + fraction * (SPAN[1] - SPAN[0]), 6)


@pytest.fixture(scope="module")
async def runtime(database_url) -> AsyncIterator[Runtime]:
    async with open_runtime(Settings(database_url=database_url, _env_file=None), run_migrations=False, pool_size=2) as rt:
        yield rt


@pytest.fixture(scope="module")
async def users_worker(temporal_client, runtime) -> AsyncIterator[str]:
    """The user's worker, in this process: their workflow and activities plus signalhub's."""
    queue = f"users-worker-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[IngestWorkflow],
        activities=[*SignalActivities(runtime.service).all(), IngestActivities(runtime.service).ingest],
    ):
        yield queue


async def progress_rows(database_url: str, workflow_id: str) -> list[tuple[float, str | None]]:
    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch(
            "SELECT data FROM workflow_signals WHERE workflow_id = $1 AND signal_type = 'progress' ORDER BY seq",
            workflow_id,
        )
    finally:
        await conn.close()
    import json

    return [(json.loads(r["data"])["progress"], json.loads(r["data"])["step"]) for r in rows]


async def run_ingest(temporal_client, queue: str, job: IngestJob, workflow_id: str) -> dict:
    handle = await temporal_client.start_workflow(IngestWorkflow.run, job, id=workflow_id, task_queue=queue)
    return await result_of(handle)


async def test_many_reports_within_one_interval_send_the_first_and_the_last(
    users_worker, temporal_client, api, token, user_id, workflow_id, database_url
):
    ws, _ = await connect(api.ws, token(user_id))
    outcome = await run_ingest(temporal_client, users_worker, IngestJob(str(user_id), files=50), workflow_id)
    signals = await signals_until_final(ws)

    assert outcome == {"attempt": 1, "started_at_file": 1}
    assert [(s["signal_type"], s["data"].get("progress")) for s in signals] == [
        ("progress", 0.1), ("progress", shown(0.0)), ("progress", shown(1.0)), ("completion", None)
    ]
    assert signals[1]["data"]["step"] == "Starting attempt 1"
    assert signals[2]["data"]["step"] == signals[2]["data"]["message"] == "File 50 of 50"
    assert await no_more_signals(ws, 0.5)
    await ws.close()
    assert len(await inbox(api, token(user_id), workflow_id)) == 4


@pytest.mark.parametrize("resume", [True, False], ids=["resuming-retry", "retry-from-scratch"])
async def test_a_retried_attempt_continues_from_the_heartbeat_without_duplicates_or_going_back(
    resume, users_worker, temporal_client, api, token, user_id, workflow_id, database_url
):
    ws, _ = await connect(api.ws, token(user_id))
    job = IngestJob(str(user_id), files=10, fail_first_attempt_after=6, resume=resume)
    outcome = await run_ingest(temporal_client, users_worker, job, workflow_id)
    signals = await signals_until_final(ws)

    # Attempt 1 sent its start at once and file 6 on its way out. Attempt 2 read file 6
    # from the heartbeat: its own start (0.0) is below and not shown; a resuming attempt
    # continues at file 7, a naive one shows nothing below file 6 and file 6 is not
    # delivered twice (same idempotency key).
    assert outcome == {"attempt": 2, "started_at_file": 7 if resume else 1}
    progress = [s["data"]["progress"] for s in signals if s["signal_type"] == "progress"]
    expected = [0.1, shown(0.0), shown(0.6)] + ([shown(0.7)] if resume else []) + [shown(1.0)]
    assert progress == expected
    assert progress == sorted(set(progress))
    assert [s["signal_type"] for s in signals].count("completion") == 1
    assert await no_more_signals(ws, 0.5)
    await ws.close()
    assert [value for value, _ in await progress_rows(database_url, workflow_id)] == expected


async def test_signalhub_worker_registers_activity_classes_from_an_imported_modules_factory(
    worker, temporal_client, api, token, user_id, workflow_id
):
    """`signalhub worker` built `IngestActivities` with its own SignalService (tests.temporal.user_workflows)."""
    ws, _ = await connect(api.ws, token(user_id))
    outcome = await run_ingest(temporal_client, worker.task_queue, IngestJob(str(user_id), files=3), workflow_id)
    signals = await signals_until_final(ws)

    assert outcome == {"attempt": 1, "started_at_file": 1}
    assert [s["data"].get("progress") for s in signals] == [0.1, shown(0.0), shown(1.0), None]
    await ws.close()


async def test_a_retry_after_the_worker_process_died_never_shows_less_than_was_shown(
    database_url, temporal_server, temporal_client, artifacts, api, token, user_id, workflow_id
):
    """The dead worker's newest heartbeats never reached Temporal (they are sent at most every
    0.8 x heartbeat_timeout), so the retry starts over from file 1: the database, not the
    heartbeat, keeps it from showing less than the dead attempt already showed."""
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    first, second = (
        WorkerProcess(database_url, temporal_server.address, artifacts, queue, SIGNALHUB_WORKER_IMPORTS=TEST_WORKFLOWS)
        for _ in range(2)
    )
    ws, _ = await connect(api.ws, token(user_id))
    await asyncio.to_thread(first.start)
    try:
        job = IngestJob(str(user_id), files=40, interval=0.05, file_seconds=0.05, heartbeat_timeout=8)
        handle = await temporal_client.start_workflow(IngestWorkflow.run, job, id=workflow_id, task_queue=queue)

        async def ten_files_shown() -> bool:
            rows = await progress_rows(database_url, workflow_id)
            return bool(rows) and rows[-1][0] >= shown(10 / 40)

        await async_wait_until(ten_files_shown, timeout=30, what="ten files shown")
        first.proc.kill()  # no graceful shutdown: the process is simply gone
        await asyncio.to_thread(first.proc.wait, 10)
        await asyncio.to_thread(second.start)
        outcome = await result_of(handle, timeout=90)
    finally:
        first.stop()
        await asyncio.to_thread(second.stop)
    signals = await signals_until_final(ws, limit=200)

    assert outcome["attempt"] == 2
    progress = [s["data"]["progress"] for s in signals if s["signal_type"] == "progress"]
    assert progress == sorted(progress), progress
    assert progress[-1] == shown(1.0)
    assert [s["signal_type"] for s in signals].count("completion") == 1
    await ws.close()
