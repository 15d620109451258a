"""`progress_reporter` outside Temporal (a script, with `workflow_id=`), against the real
database: what it sends, what it never sends, and what it refuses."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator

import pytest

from signalhub.runtime import open_runtime
from signalhub.service import SignalService
from signalhub.settings import Settings
from signalhub.signals import SignalError
from signalhub.store import connect as connect_db
from signalhub.temporal.progress import ProgressCheckpoint, progress_reporter


@pytest.fixture(scope="module")
async def service(database_url) -> AsyncIterator[SignalService]:
    async with open_runtime(Settings(database_url=database_url, _env_file=None), run_migrations=False, pool_size=2) as rt:
        yield rt.service


async def stored(database_url: str, workflow_id: str) -> list[dict]:
    conn = await connect_db(database_url)
    try:
        rows = await conn.fetch(
            "SELECT data FROM workflow_signals WHERE workflow_id = $1 ORDER BY seq", workflow_id
        )
    finally:
        await conn.close()
    return [json.loads(r["data"]) for r in rows]


@pytest.fixture
def workflow_id() -> str:
    return f"script-{uuid.uuid4()}"


async def test_reports_within_one_interval_store_the_first_at_once_and_the_last_on_leaving(
    service, database_url, user_id, workflow_id
):
    async with progress_reporter(user_id, emitter=service, interval=30, workflow_id=workflow_id) as report:
        for i in range(1, 11):
            report(i / 10, f"Part {i}")
            await asyncio.sleep(0.01)
        assert [d["progress"] for d in await stored(database_url, workflow_id)] == [0.1]

    assert await stored(database_url, workflow_id) == [
        {"progress": 0.1, "step": "Part 1", "message": "Part 1"},
        {"progress": 1.0, "step": "Part 10", "message": "Part 10"},
    ]


async def test_a_report_below_the_highest_is_not_sent_and_an_equal_one_with_new_text_is(
    service, database_url, user_id, workflow_id
):
    async with progress_reporter(user_id, emitter=service, interval=30, workflow_id=workflow_id) as report:
        report(0.5, "Half")
        await asyncio.sleep(0.05)
        report(0.5, "Half, checking")
        report(0.3, "Going back")

    assert [(d["progress"], d["step"]) for d in await stored(database_url, workflow_id)] == [
        (0.5, "Half"), (0.5, "Half, checking")
    ]


async def test_span_maps_the_activitys_own_progress_into_the_workflows(service, database_url, user_id, workflow_id):
    async with progress_reporter(
        user_id, emitter=service, interval=30, span=(0.35, 0.6), workflow_id=workflow_id
    ) as report:
        report(0.0, "Begin")
        await asyncio.sleep(0.05)
        report(1.0, "End")
    assert [d["progress"] for d in await stored(database_url, workflow_id)] == [0.35, 0.6]


async def test_a_block_that_raises_still_sends_its_last_value(service, database_url, user_id, workflow_id):
    with pytest.raises(RuntimeError, match="disk full"):
        async with progress_reporter(user_id, emitter=service, interval=30, workflow_id=workflow_id) as report:
            report(0.2, "Copying")
            await asyncio.sleep(0.05)
            report(0.7, "Copying")
            raise RuntimeError("disk full")
    assert [d["progress"] for d in await stored(database_url, workflow_id)] == [0.2, 0.7]


@pytest.mark.parametrize(
    "value",
    [1.5, -0.1, math.nan, math.inf, -math.inf, 1e308, True, None, "0.5", "٠٫٥", "０.５", [0.5], {"p": 0.5}],
    ids=["above-one", "negative", "nan", "inf", "-inf", "huge", "bool", "none", "text", "arabic-indic-digits",
         "fullwidth-digits", "list", "object"],
)
async def test_a_value_that_is_not_a_fraction_raises_at_once_and_nothing_is_sent(
    value, service, database_url, user_id, workflow_id
):
    async with progress_reporter(user_id, emitter=service, workflow_id=workflow_id) as report:
        with pytest.raises(SignalError, match="progress"):
            report(value, "Bad")
    assert await stored(database_url, workflow_id) == []


@pytest.mark.parametrize(
    "step", ["nul\x00inside", "\ud800 lone surrogate", 42, "x" * 70_000], ids=["nul", "surrogate", "number", "70k"]
)
async def test_a_step_that_cannot_be_stored_raises_at_once(step, service, database_url, user_id, workflow_id):
    async with progress_reporter(user_id, emitter=service, workflow_id=workflow_id) as report:
        with pytest.raises(SignalError):
            report(0.5, step)
    assert await stored(database_url, workflow_id) == []


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"user_id": "user-٣"}, SignalError),
        ({"interval": 0}, ValueError),
        ({"interval": math.nan}, ValueError),
        ({"interval": True}, ValueError),
        ({"span": (0.8, 0.2)}, ValueError),
        ({"span": (0.0, 2.0)}, SignalError),
        ({"workflow_id": None}, ValueError),
    ],
    ids=["user-not-uuid", "interval-zero", "interval-nan", "interval-bool", "span-falling", "span-above-one",
         "no-workflow-outside-activity"],
)
async def test_bad_reporter_options_are_refused_before_anything_runs(kwargs, error, service, user_id, workflow_id):
    options = {"user_id": user_id, "emitter": service, "workflow_id": workflow_id, **kwargs}
    with pytest.raises(error):
        async with progress_reporter(options.pop("user_id"), **options):
            pass


def test_a_checkpoint_survives_the_heartbeat_round_trip_and_foreign_details_are_ignored():
    checkpoint = ProgressCheckpoint(0.4, "Step", None, {"offset": 7})
    assert ProgressCheckpoint.from_heartbeat(["theirs", checkpoint.heartbeat()]) == checkpoint
    assert ProgressCheckpoint.from_heartbeat([{"signalhub_progress": 1.5}, {"signalhub_progress": True}]) is None
    assert ProgressCheckpoint.from_heartbeat([]) is None


async def test_a_report_after_the_block_ended_is_an_error_not_a_silent_loss(service, user_id, workflow_id):
    async with progress_reporter(user_id, emitter=service, workflow_id=workflow_id) as report:
        report(0.5)
    with pytest.raises(RuntimeError, match="after its `progress_reporter` block ended"):
        report(0.9)


async def test_a_reporter_never_shows_less_than_the_workflows_newest_stored_progress(
    service, database_url, user_id, workflow_id
):
    await service.emit(user_id, "progress", workflow_id, {"progress": 0.5, "step": "Elsewhere"})
    async with progress_reporter(user_id, emitter=service, interval=30, workflow_id=workflow_id) as report:
        report(0.3, "Behind")
        await asyncio.sleep(0.05)
        report(0.6, "Ahead")
    assert [(d["progress"], d["step"]) for d in await stored(database_url, workflow_id)] == [
        (0.5, "Elsewhere"), (0.6, "Ahead")
    ]
