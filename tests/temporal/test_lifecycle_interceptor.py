"""The opt-in lifecycle interceptor: started / completion / error for any workflow that
carries a user id, with no signal code in the workflow (worker runs SIGNALHUB_LIFECYCLE_SIGNALS=true)."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError

from signalhub.store import connect as connect_db
from tests.support import connect
from tests.temporal.example_workflows import Greeting, GreetingWorkflow, PlainWorkflow
from tests.temporal.helpers import no_more_signals, result_of, signals_until_final

pytestmark = pytest.mark.temporal


async def test_workflow_with_user_id_in_its_input_reports_start_and_completion(
    worker, temporal_client, api, token, user_id, workflow_id
):
    ws, _ = await connect(api.ws, token(user_id))
    handle = await temporal_client.start_workflow(
        GreetingWorkflow.run, Greeting(str(user_id), "Ada"), id=workflow_id, task_queue="signalhub"
    )
    assert await result_of(handle) == {"greeting": "Hello, Ada!"}
    signals = await signals_until_final(ws)
    assert [(s["signal_type"], s["workflow_id"]) for s in signals] == [
        ("status_update", workflow_id), ("completion", workflow_id)
    ]
    assert signals[0]["data"] == {"status": "started", "message": "GreetingWorkflow started"}
    assert signals[1]["data"] == {"result": {"greeting": "Hello, Ada!"}, "message": "GreetingWorkflow completed"}
    assert await no_more_signals(ws, 0.5)
    await ws.close()


async def test_failing_workflow_reports_an_error_with_its_type_as_code(
    worker, temporal_client, api, token, user_id, workflow_id
):
    ws, _ = await connect(api.ws, token(user_id))
    handle = await temporal_client.start_workflow(
        GreetingWorkflow.run, Greeting(str(user_id), "Mallory", refuse=True), id=workflow_id, task_queue="signalhub"
    )
    with pytest.raises(WorkflowFailureError):
        await result_of(handle)
    signals = await signals_until_final(ws)
    assert [s["signal_type"] for s in signals] == ["status_update", "error"]
    assert signals[1]["data"] == {
        "error": "Mallory may not be greeted", "error_code": "GREETING_REFUSED", "status": "failed"
    }
    await ws.close()


async def test_user_id_may_come_from_the_memo(worker, temporal_client, api, token, user_id, workflow_id):
    ws, _ = await connect(api.ws, token(user_id))
    handle = await temporal_client.start_workflow(
        PlainWorkflow.run, "quiet", id=workflow_id, task_queue="signalhub", memo={"user_id": str(user_id)}
    )
    assert await result_of(handle) == "QUIET"
    signals = await signals_until_final(ws)
    assert [s["signal_type"] for s in signals] == ["status_update", "completion"]
    assert signals[1]["data"]["result"] == "QUIET"
    await ws.close()


async def test_workflow_without_a_user_id_sends_nothing(worker, temporal_client, workflow_id, database_url):
    handle = await temporal_client.start_workflow(PlainWorkflow.run, "anon", id=workflow_id, task_queue="signalhub")
    assert await result_of(handle) == "ANON"
    conn = await connect_db(database_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM workflow_signals WHERE workflow_id = $1", workflow_id)
    finally:
        await conn.close()
    assert count == 0
