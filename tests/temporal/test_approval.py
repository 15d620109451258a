"""ApprovalWorkflow through the API: a custom `approval_needed` signal out, the
user's answer back in as a Temporal Signal, then `completion`; real Temporal,
worker, API and sockets."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support import collect_signals, connect
from tests.temporal.helpers import result_of, signals_until_final

pytestmark = pytest.mark.temporal


def _http(api, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


async def _start(http, question: str = "Publish the Q3 report?") -> str:
    response = await http.post("/api/v1/approvals", json={"question": question})
    assert response.status_code == 202, response.text
    return response.json()["workflow_id"]


async def test_user_answers_an_approval_request_and_the_workflow_hears_it(worker, api, temporal_client, token, user_id):
    async with _http(api, token(user_id)) as http:
        ws, _ = await connect(api.ws, token(user_id))
        workflow_id = await _start(http)
        await ws.send(f'{{"type":"subscribe","workflow_ids":["{workflow_id}"]}}')
        [message] = await collect_signals(ws, 1, timeout=30)
        assert message["signal_type"] == "approval_needed"
        assert message["data"] == {"question": "Publish the Q3 report?", "options": ["approve", "reject"]}

        answer = await http.post(f"/api/v1/approvals/{workflow_id}/decision", json={"decision": "approve", "comment": "ok ✓"})
        assert answer.status_code == 202, answer.text
        [completion] = await signals_until_final(ws)
        assert completion["signal_type"] == "completion" and completion["workflow_id"] == workflow_id
        assert completion["data"]["result"] == {"decision": "approve", "comment": "ok ✓"}
        assert completion["data"]["message"] == "Request approved"
        assert await result_of(temporal_client.get_workflow_handle(workflow_id)) == {"decision": "approve", "comment": "ok ✓"}

        late = await http.post(f"/api/v1/approvals/{workflow_id}/decision", json={"decision": "reject"})
        assert late.status_code == 404
        await ws.close()


async def test_another_users_approval_is_not_found_and_bad_decisions_are_422(worker, api, token, user_id):
    async with _http(api, token(user_id)) as owner, _http(api, token(uuid.uuid4())) as intruder:
        workflow_id = await _start(owner)
        assert (await intruder.post(f"/api/v1/approvals/{workflow_id}/decision", json={"decision": "approve"})).status_code == 404
        bad_bodies = ({"decision": "maybe"}, {"decision": "approve", "comment": "x" * 501},
                      {"decision": "approve", "comment": "a\u0000b"}, {})
        for body in bad_bodies:
            assert (await owner.post(f"/api/v1/approvals/{workflow_id}/decision", json=body)).status_code == 422
        for bad_id in ("approval-../../x", "doc-123", "approval-" + "a" * 200):
            assert (await owner.post(f"/api/v1/approvals/{bad_id}/decision", json={"decision": "approve"})).status_code in (404, 422)
        for question in ("", "q" * 501, "nul\u0000"):
            assert (await owner.post("/api/v1/approvals", json={"question": question})).status_code == 422
        assert (await owner.post(f"/api/v1/approvals/{workflow_id}/decision", json={"decision": "reject"})).status_code == 202
