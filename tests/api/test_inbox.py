"""The inbox REST API against a real API process and database."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from tests.support import collect_signals, connect, emit_in_subprocess


@pytest.fixture
async def seeded(api, database_url, token):
    """A user with 7 signals over two workflows, and a client authenticated as them."""
    user = uuid.uuid4()
    emits = [
        {"user_id": user, "signal_type": "status_update", "workflow_id": "doc-a", "data": {"status": "started"}},
        *({"user_id": user, "signal_type": "progress", "workflow_id": "doc-a", "data": {"progress": p}} for p in (0.2, 0.4, 0.6)),
        {"user_id": user, "signal_type": "completion", "workflow_id": "doc-a", "data": {"result": {"status": "completed"}}},
        {"user_id": user, "signal_type": "status_update", "workflow_id": "doc-b", "data": {"status": "started"}},
        {"user_id": user, "signal_type": "error", "workflow_id": "doc-b", "data": {"error": "boom", "error_code": "EXTRACTION_ERROR"}},
    ]
    stored = await asyncio.to_thread(emit_in_subprocess, database_url, *emits)
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(user)}"}) as http:
        yield user, stored, http


async def test_list_is_newest_first_in_the_seed_shape_with_read_state(seeded):
    _, stored, http = seeded
    body = (await http.get("/api/v1/inbox/signals")).json()
    assert [s["seq"] for s in body["signals"]] == [7, 6, 5, 4, 3, 2, 1]
    assert body["has_more"] is False and body["next_cursor"] is None
    newest = body["signals"][0]
    assert newest["id"] == stored[-1]["id"]
    assert newest["signal_type"] == "error" and newest["data"]["error_code"] == "EXTRACTION_ERROR"
    assert newest["read"] is False and newest["read_at"] is None


async def test_offset_pagination_as_in_the_seed(seeded):
    _, _, http = seeded
    page = (await http.get("/api/v1/inbox/signals", params={"limit": 3, "offset": 3})).json()
    assert [s["seq"] for s in page["signals"]] == [4, 3, 2] and page["has_more"] is True


async def test_cursor_pagination_walks_every_signal_once(seeded):
    _, _, http = seeded
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/api/v1/inbox/signals", params=params)).json()
        seen += [s["seq"] for s in page["signals"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"signal_type": "progress"}, [4, 3, 2]),
        ({"workflow_id": "doc-b"}, [7, 6]),
        ({"signal_type": "status_update", "workflow_id": "doc-a"}, [1]),
        ({"since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z", "signal_type": "error"}, [7]),
        ({"until": "2000-01-01T00:00:00Z"}, []),
    ],
)
async def test_filters(seeded, params, expected):
    _, _, http = seeded
    body = (await http.get("/api/v1/inbox/signals", params=params)).json()
    assert [s["seq"] for s in body["signals"]] == expected


async def test_read_filter_unread_count_and_mark_read(seeded):
    _, stored, http = seeded
    assert (await http.get("/api/v1/inbox/signals/unread-count")).json() == {"unread_count": 7}
    marked = await http.post(f"/api/v1/inbox/signals/{stored[0]['id']}/read")
    assert marked.status_code == 200 and marked.json()["read"] is True and marked.json()["read_at"]
    assert (await http.get("/api/v1/inbox/signals/unread-count")).json() == {"unread_count": 6}
    read = (await http.get("/api/v1/inbox/signals", params={"read": "true"})).json()
    assert [s["id"] for s in read["signals"]] == [stored[0]["id"]]
    unread = (await http.get("/api/v1/inbox/signals", params={"read": "false"})).json()
    assert len(unread["signals"]) == 6


async def test_mark_all_read_reports_how_many_changed(seeded):
    _, _, http = seeded
    assert (await http.post("/api/v1/inbox/signals/mark-all-read")).json() == {"updated": 7}
    assert (await http.post("/api/v1/inbox/signals/mark-all-read")).json() == {"updated": 0}
    assert (await http.get("/api/v1/inbox/signals/unread-count")).json() == {"unread_count": 0}


async def test_another_users_signal_is_not_found_and_stays_unread(api, seeded, token):
    owner, stored, owner_http = seeded
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(uuid.uuid4())}"}) as intruder:
        response = await intruder.post(f"/api/v1/inbox/signals/{stored[0]['id']}/read")
        assert response.status_code == 404 and response.json() == {"detail": "signal not found"}
        assert (await intruder.get("/api/v1/inbox/signals")).json()["signals"] == []
        assert (await intruder.post("/api/v1/inbox/signals/mark-all-read")).json() == {"updated": 0}
    assert (await owner_http.get("/api/v1/inbox/signals/unread-count")).json() == {"unread_count": 7}


async def test_unknown_id_is_404_and_malformed_id_is_422(seeded):
    _, _, http = seeded
    assert (await http.post(f"/api/v1/inbox/signals/{uuid.uuid4()}/read")).status_code == 404
    assert (await http.post("/api/v1/inbox/signals/not-a-uuid/read")).status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"offset": -1}, {"cursor": "abc"},
        {"cursor": "-5"}, {"signal_type": "Not A Type"}, {"signal_type": "x" * 65}, {"read": "maybe"}, {"since": "yesterday"},
        {"since": "2024-01-01T00:00:00"}, {"workflow_id": "x" * 300},
    ],
)
async def test_invalid_parameters_are_422_never_500(seeded, params):
    _, _, http = seeded
    response = await http.get("/api/v1/inbox/signals", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


async def test_marking_read_in_one_tab_tells_the_users_other_tabs(api, seeded, token):
    user, stored, http = seeded
    other_tab, _ = await connect(api.ws, token(user))
    await http.post(f"/api/v1/inbox/signals/{stored[1]['id']}/read")
    message = json.loads(await asyncio.wait_for(other_tab.recv(), 5))
    assert message["type"] == "inbox" and message["unread_count"] == 6
    assert message["change"] == {"set": {"read": True, "seen": True}, "ids": [stored[1]["id"]]}
    await other_tab.close()


async def test_send_test_reaches_the_user_and_the_inbox(api, token, service_token):
    user = uuid.uuid4()
    ws, _ = await connect(api.ws, token(user))
    async with httpx.AsyncClient(base_url=api.base) as http:
        # exactly the seed's curl: no Content-Type header, only the auth it now needs
        sent = await http.post(
            "/ws/send-test",
            content=f'{{"user_id": "{user}", "message": "Test signal"}}',
            headers={"Authorization": f"Bearer {service_token}"},
        )
        assert sent.status_code == 200, sent.text
        [signal] = await collect_signals(ws, 1)
        assert signal["signal_type"] == "status_update" and signal["data"]["message"] == "Test signal"
        inbox = await http.get("/api/v1/inbox/signals", headers={"Authorization": f"Bearer {token(user)}"})
        assert [s["id"] for s in inbox.json()["signals"]] == [signal["id"]]
    await ws.close()


async def test_send_test_with_a_non_uuid_user_is_a_clear_422(api, service_token):
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {service_token}"}) as http:
        response = await http.post("/ws/send-test", content='{"user_id": "test-user", "message": "Test signal"}')
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "user_id"
        bad_json = await http.post("/ws/send-test", content="{not json")
        assert bad_json.status_code == 422


async def test_emit_endpoint_is_idempotent_by_key(api, service_token, token):
    user = uuid.uuid4()
    body = {"user_id": str(user), "signal_type": "progress", "workflow_id": "w", "data": {"progress": 0.1},
            "idempotency_key": "backend-job-17/step-2"}
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {service_token}"}) as http:
        first = await http.post("/api/v1/signals", json=body)
        second = await http.post("/api/v1/signals", json=body)
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"] and second.json()["created"] is False
        bad = await http.post("/api/v1/signals", json=body | {"data": {"progress": 3}, "idempotency_key": None})
        assert bad.status_code == 422 and "between 0 and 1" in bad.json()["detail"][0]["msg"]


async def test_healthz_says_ok(api):
    async with httpx.AsyncClient(base_url=api.base) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok", "broker": "connected"}
