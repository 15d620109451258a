"""Emitting over HTTP: custom types, many recipients and batches, against a real
API process, database and sockets."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.support import collect_signals, connect, no_message


@pytest.fixture
async def http(api, service_token):
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {service_token}"}, timeout=30) as client:
        yield client


# -- open types ---------------------------------------------------------------------


async def test_custom_type_is_stored_delivered_listed_and_filterable(api, http, token):
    user = uuid.uuid4()
    ws, _ = await connect(api.ws, token(user))
    approval = {"user_id": str(user), "signal_type": "approval_needed", "workflow_id": "doc-7",
                "data": {"question": "Publish?", "reviewers": ["a", "b"], "deadline": None, "nested": {"x": [1, 2.5]}}}
    response = await http.post("/api/v1/signals", json=approval)
    assert response.status_code == 201, response.text
    await http.post("/api/v1/signals", json={"user_id": str(user), "signal_type": "progress", "workflow_id": "doc-7",
                                             "data": {"progress": 0.5}})
    [live, _] = await collect_signals(ws, 2)
    assert live["signal_type"] == "approval_needed" and live["data"] == approval["data"]
    assert live["id"] == response.json()["id"]
    await ws.close()

    inbox = httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(user)}"})
    async with inbox:
        listed = (await inbox.get("/api/v1/inbox/signals")).json()["signals"]
        assert [s["signal_type"] for s in listed] == ["progress", "approval_needed"]
        only = (await inbox.get("/api/v1/inbox/signals", params={"signal_type": "approval_needed"})).json()["signals"]
        assert [s["id"] for s in only] == [response.json()["id"]]
        bad_filter = await inbox.get("/api/v1/inbox/signals", params={"signal_type": "Approval Needed"})
        assert bad_filter.status_code == 422


async def test_seed_types_keep_their_data_validation(http):
    body = {"user_id": str(uuid.uuid4()), "signal_type": "progress", "workflow_id": "w", "data": {"step": "no progress"}}
    response = await http.post("/api/v1/signals", json=body)
    assert response.status_code == 422 and "progress is required" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "signal_type",
    ["Approval", "9lives", "a" * 65, "with space", "ünïcode", "approval\n", "ａｐｐ", "", "a/b", "١٢٣", None, 7],
)
async def test_signal_type_outside_the_pattern_is_422(http, signal_type):
    body = {"user_id": str(uuid.uuid4()), "signal_type": signal_type, "workflow_id": "w", "data": {}}
    response = await http.post("/api/v1/signals", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == "signal_type"


@pytest.mark.parametrize(
    "data, status",
    [
        ([1, 2], 422),
        ("text", 422),
        ({"blob": "x" * (64 * 1024)}, 422),
        ({"emoji": "🚀", "rtl": "שלום", "digits": "١٢٣"}, 201),
        ({"nul": "a\u0000b"}, 422),
    ],
)
async def test_custom_type_data_is_any_object_within_the_size_limit(http, data, status):
    body = {"user_id": str(uuid.uuid4()), "signal_type": "note.added", "workflow_id": "w", "data": data}
    response = await http.post("/api/v1/signals", json=body)
    assert response.status_code == status, response.text


async def test_deeply_nested_custom_data_is_refused_cleanly(http):
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    body = f'{{"user_id": "{uuid.uuid4()}", "signal_type": "deep", "workflow_id": "w", "data": {deep}}}'
    response = await http.post("/api/v1/signals", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text


# -- many recipients ----------------------------------------------------------------


async def test_one_request_reaches_many_users_each_with_their_own_seq(api, http, token):
    users = [uuid.uuid4() for _ in range(5)]
    sockets = [(await connect(api.ws, token(u)))[0] for u in users]
    await http.post("/api/v1/signals", json={"user_id": str(users[0]), "signal_type": "status_update",
                                             "workflow_id": "w0", "data": {"status": "earlier"}})
    body = {"user_ids": [str(u) for u in users], "signal_type": "review_requested", "workflow_id": "doc-5",
            "data": {"document": "Q3 report"}, "idempotency_key": "review-doc-5"}
    response = await http.post("/api/v1/signals", json=body)
    assert response.status_code == 201, response.text
    answer = response.json()["signals"]
    assert [a["user_id"] for a in answer] == [str(u) for u in users]
    assert [a["seq"] for a in answer] == [2, 1, 1, 1, 1]
    assert all(a["created"] for a in answer) and len({a["id"] for a in answer}) == 5
    for ws, expected in zip(sockets, answer, strict=True):
        signals = await collect_signals(ws, 2 if expected["seq"] == 2 else 1)
        assert signals[-1]["id"] == expected["id"] and signals[-1]["data"] == {"document": "Q3 report"}
        await ws.close()

    retry = await http.post("/api/v1/signals", json=body)
    assert retry.status_code == 200
    assert [(a["id"], a["created"]) for a in retry.json()["signals"]] == [(a["id"], False) for a in answer]


async def test_a_recipient_named_twice_gets_one_signal(http):
    user = str(uuid.uuid4())
    body = {"user_ids": [user, user], "signal_type": "ping.me", "workflow_id": "w", "data": {}}
    answer = (await http.post("/api/v1/signals", json=body)).json()["signals"]
    assert answer[0] == answer[1] and answer[0]["seq"] == 1


async def test_idempotency_key_applies_per_recipient(http):
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    first = await http.post("/api/v1/signals", json={"user_id": old, "signal_type": "x", "workflow_id": "w", "idempotency_key": "k"})
    both = await http.post("/api/v1/signals", json={"user_ids": [old, new], "signal_type": "x", "workflow_id": "w", "idempotency_key": "k"})
    assert both.status_code == 201
    [again, fresh] = both.json()["signals"]
    assert again["id"] == first.json()["id"] and again["created"] is False
    assert fresh["created"] is True


@pytest.mark.parametrize(
    "audience, complaint",
    [
        ({}, "exactly one of user_id or user_ids"),
        ({"user_id": "U", "user_ids": ["U"]}, "exactly one of user_id or user_ids"),
        ({"user_ids": []}, "at least 1"),
        ({"user_ids": ["U"] * 1001}, "at most 1000"),
        ({"user_ids": ["١٢٣٤٥٦٧٨-1234-1234-1234-123456789012"]}, "UUID"),
        ({"user_ids": [12]}, "UUID"),
        ({"user_ids": "U"}, "list"),
    ],
)
async def test_bad_audience_is_422_and_stores_nothing(http, audience, complaint):
    user = str(uuid.uuid4())
    body = {"signal_type": "x", "workflow_id": "w"} | json.loads(json.dumps(audience).replace('"U"', f'"{user}"'))
    response = await http.post("/api/v1/signals", json=body)
    assert response.status_code == 422, response.text
    assert complaint.lower() in json.dumps(response.json()).lower()


# -- batch --------------------------------------------------------------------------


async def test_batch_answers_in_order_and_a_bad_item_fails_only_itself(api, http, token):
    user = uuid.uuid4()
    ws, _ = await connect(api.ws, token(user))
    good = {"user_id": str(user), "signal_type": "progress", "workflow_id": "w", "data": {"progress": 0.1}}
    items = [
        good,
        good | {"data": {"progress": 7}},                 # seed validation
        {"user_id": "not-a-uuid", "signal_type": "x", "workflow_id": "w"},
        "not an object",
        good | {"signal_type": "Bad Type"},
        {"user_ids": [str(user)], "signal_type": "x", "workflow_id": "w"},
        good | {"signal_type": "approval_needed", "data": {"question": "ok?"}},
    ]
    response = await http.post("/api/v1/signals/batch", json={"signals": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == len(items)
    assert results[0]["seq"] == 1 and results[6]["seq"] == 2 and results[0]["created"] is True
    for index in (1, 2, 3, 4, 5):
        assert results[index]["error"]["status"] == 422
        assert results[index]["error"]["detail"][0]["loc"][:3] == ["body", "signals", index]
    assert "between 0 and 1" in results[1]["error"]["detail"][0]["msg"]
    assert "POST /api/v1/signals" in results[5]["error"]["detail"][0]["msg"]
    delivered = await collect_signals(ws, 2)
    assert [s["id"] for s in delivered] == [results[0]["id"], results[6]["id"]]
    assert await no_message(ws, 0.3)
    await ws.close()


async def test_batch_repeats_are_answered_from_the_stored_signal(http):
    user = str(uuid.uuid4())
    item = {"user_id": user, "signal_type": "x", "workflow_id": "w", "idempotency_key": "same"}
    results = (await http.post("/api/v1/signals/batch", json={"signals": [item, item]})).json()["results"]
    assert results[0]["id"] == results[1]["id"]
    assert [r["created"] for r in results] == [True, False]


@pytest.mark.parametrize("signals", [[], [{}] * 1001, {"a": 1}, None])
async def test_batch_outside_one_to_a_thousand_items_is_422(http, signals):
    response = await http.post("/api/v1/signals/batch", json={"signals": signals})
    assert response.status_code == 422


async def test_emit_needs_the_service_role(api, token):
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(uuid.uuid4())}"}) as user_http:
        assert (await user_http.post("/api/v1/signals/batch", json={"signals": [{}]})).status_code == 403


@pytest.mark.parametrize(
    "field, value",
    [
        ("idempotency_key", "k" * 513),
        ("idempotency_key", ""),
        ("workflow_id", "w" * 256),
        ("workflow_id", "a\u0000b"),
        ("data", {"text": "\ud800"}),
        ("user_id", "١٢٣٤٥٦٧٨-1234-1234-1234-123456789012"),
        ("user_id", "00000000-0000-0000-0000-00000000000０"),
        ("signal_type", "x" * 10_000),
    ],
)
async def test_hostile_batch_items_fail_alone(http, field, value):
    good = {"user_id": str(uuid.uuid4()), "signal_type": "x", "workflow_id": "w"}
    response = await http.post("/api/v1/signals/batch", content=json.dumps({"signals": [good | {field: value}, good]}),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    bad, fine = response.json()["results"]
    assert bad["error"]["status"] == 422 and bad["error"]["detail"][0]["loc"][:3] == ["body", "signals", 0]
    assert fine["seq"] >= 1

