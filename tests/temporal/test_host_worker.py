"""docs/temporal-worker.md, as a host application does it: signalhub's activities
registered on the host's own Temporal worker, next to its own workflow."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from signalhub.runtime import open_runtime
from signalhub.settings import Settings
from signalhub.temporal.activities import SignalActivities
from tests.support import collect_signals, connect
from tests.temporal.host_workflows import InvoiceExportWorkflow

pytestmark = pytest.mark.temporal


async def test_a_host_worker_with_signalhubs_activities_delivers_to_the_user(database_url, temporal_server, api, token):
    user = str(uuid.uuid4())
    ws, _ = await connect(api.ws, token(user))
    client = await Client.connect(temporal_server.address)
    settings = Settings(database_url=database_url, _env_file=None)
    async with open_runtime(settings, pool_size=2) as runtime:
        async with Worker(client, task_queue="host-app", workflows=[InvoiceExportWorkflow],
                          activities=SignalActivities(runtime.service).all()):
            result = await client.execute_workflow(
                InvoiceExportWorkflow.run, args=[user, 3], id=f"export-{user}", task_queue="host-app"
            )
    assert result == {"exported": 3}
    signals = await collect_signals(ws, 4)
    await ws.close()
    assert [s["signal_type"] for s in signals] == ["progress", "progress", "progress", "completion"]
    assert [s["seq"] for s in signals] == [1, 2, 3, 4]
    assert [s["data"]["message"] for s in signals[:3]] == [f"Exported invoice {n} of 3" for n in (1, 2, 3)]
    assert signals[-1]["data"] == {"result": {"exported": 3}, "message": "Export finished"}
    assert {s["workflow_id"] for s in signals} == {f"export-{user}"}
