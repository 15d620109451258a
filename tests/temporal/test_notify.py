"""`signalhub.temporal.notify` from a user's workflow: each helper's signal reaches the
user's socket and inbox, once, in order; bad input fails fast and is not retried."""

from __future__ import annotations

import math
import uuid

import pytest
from temporalio.worker import Worker

from tests.support import connect
from tests.temporal.helpers import inbox, no_more_signals, result_of, signals_until_final
from tests.temporal.user_workflows import BadSignalWorkflow, RemoteNotifyWorkflow, ReviewWorkflow

pytestmark = pytest.mark.temporal


@pytest.mark.parametrize("refuse", [False, True], ids=["completed", "refused"])
async def test_every_notify_helper_reaches_the_users_socket_and_inbox_in_order(
    refuse, worker, temporal_client, api, token, user_id, workflow_id
):
    ws, _ = await connect(api.ws, token(user_id))
    handle = await temporal_client.start_workflow(
        ReviewWorkflow.run, args=[str(user_id), refuse], id=workflow_id, task_queue="signalhub"
    )
    seqs = await result_of(handle)
    signals = await signals_until_final(ws)

    assert [s["seq"] for s in signals] == seqs
    assert {s["workflow_id"] for s in signals} == {workflow_id}
    assert [(s["signal_type"], s["data"]) for s in signals] == [
        ("status_update", {"status": "started", "message": "Review started"}),
        ("progress", {"progress": 0.4, "step": "Chunking", "message": "Chunking"}),
        ("status_update", {"status": "reviewing", "reviewer": "Zoë"}),
        ("error", {"error": "The reviewer refused", "error_code": "REFUSED"})
        if refuse
        else ("completion", {"result": {"approved": True}, "message": "Review finished"}),
    ]
    assert await no_more_signals(ws, 0.5)
    await ws.close()
    assert [s["id"] for s in await inbox(api, token(user_id), workflow_id)] == [s["id"] for s in signals]


async def fails_how(temporal_client, workflow_id: str, user_id, helper: str, *args) -> tuple[dict, list[int]]:
    """Run `notify.<helper>(user_id, *args)` in a workflow: how it failed, and each activity attempt."""
    handle = await temporal_client.start_workflow(
        BadSignalWorkflow.run, args=[str(user_id), helper, list(args)], id=workflow_id, task_queue="signalhub"
    )
    outcome = await result_of(handle)
    attempts = [
        event.activity_task_started_event_attributes.attempt
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_started_event_attributes")
    ]
    return outcome, attempts


@pytest.mark.parametrize(
    "value", [1.5, -0.1, math.inf, "0.5", "٠٫٥", "０.５", None, True, {"progress": 0.5}, 1e308],
    ids=["above-one", "negative", "infinite", "text", "arabic-indic-digits", "fullwidth-digits", "none", "bool",
         "object", "huge"],
)
async def test_bad_progress_fails_its_activity_once_without_retries_and_stores_nothing(
    value, worker, temporal_client, api, token, user_id, workflow_id
):
    outcome, attempts = await fails_how(temporal_client, workflow_id, user_id, "progress", value, "Bad")

    assert outcome["type"] == "INVALID_SIGNAL" and outcome["non_retryable"]
    assert "progress" in outcome["message"]
    assert attempts == [1]
    assert await inbox(api, token(user_id), workflow_id) == []


@pytest.mark.parametrize(
    "helper, args, field",
    [
        ("status", [42], "status"),
        ("status", [""], "status"),
        ("status", ["ok", ["not", "text"]], "message"),
        ("error", [None], "error"),
        ("error", ["failed", 7], "error_code"),
        ("signal", [["status_update"], {}], "signal_type"),
        ("signal", ["status_update", ["a", "list"]], "data"),
        ("signal", ["status_update", {"status": "nul\x00inside"}], "NUL"),
        ("completion", [{"text": "x" * 70_000}], "larger than"),
    ],
    ids=["status-number", "status-empty", "message-list", "error-none", "code-number", "type-list", "data-list",
         "nul", "70k-result"],
)
async def test_bad_helper_arguments_fail_once_as_invalid_signal(
    helper, args, field, worker, temporal_client, api, token, user_id, workflow_id
):
    outcome, attempts = await fails_how(temporal_client, workflow_id, user_id, helper, *args)

    assert outcome["type"] == "INVALID_SIGNAL" and outcome["non_retryable"], outcome
    assert field in outcome["message"]
    assert attempts == [1]
    assert await inbox(api, token(user_id), workflow_id) == []


async def test_a_user_id_that_is_not_a_uuid_fails_fast(worker, temporal_client, user_id, workflow_id):
    handle = await temporal_client.start_workflow(
        BadSignalWorkflow.run, args=["user-٣", "progress", [0.5]], id=workflow_id, task_queue="signalhub"
    )
    outcome = await result_of(handle)
    assert outcome["type"] == "INVALID_SIGNAL" and "user_id" in outcome["message"]


async def test_notifier_sends_through_the_task_queue_where_signalhubs_activities_run(
    worker, temporal_client, api, token, user_id, workflow_id
):
    """The user's worker has no signalhub activities; `Notifier(task_queue=…)` reaches `signalhub worker`'s."""
    queue = f"app-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_client, task_queue=queue, workflows=[RemoteNotifyWorkflow]):
        handle = await temporal_client.start_workflow(
            RemoteNotifyWorkflow.run, args=[str(user_id), worker.task_queue], id=workflow_id, task_queue=queue
        )
        seq = await result_of(handle)
    [signal] = await inbox(api, token(user_id), workflow_id)
    assert (signal["seq"], signal["data"]["progress"], signal["data"]["step"]) == (seq, 0.5, "Elsewhere")
