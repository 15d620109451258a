"""Sockets that follow some workflows only: `?workflow_id=`, `subscribe` and
`unsubscribe`, live and on resume, over real sockets against a real API process."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest
import websockets

from tests.support import collect_signals, connect, no_message, recv_json

LIMIT = 100  # SIGNALHUB_MAX_SUBSCRIPTIONS default


@pytest.fixture
async def emit(api, service_token):
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {service_token}"}, timeout=30) as http:

        async def send(user: uuid.UUID, *workflows: str) -> list[dict]:
            items = [{"user_id": str(user), "signal_type": "status_update", "workflow_id": w,
                      "data": {"status": f"step {i}"}} for i, w in enumerate(workflows)]
            response = await http.post("/api/v1/signals/batch", json={"signals": items})
            assert response.status_code == 200, response.text
            return response.json()["results"]

        yield send


async def _open(api, jwt: str, workflows, params):
    query = "&".join([f"token={jwt}", *(f"workflow_id={quote(w)}" for w in workflows), *(f"{k}={v}" for k, v in params.items())])
    ws = await websockets.connect(f"{api.ws}?{query}", open_timeout=10, max_queue=None)
    hello = await recv_json(ws)
    assert hello["type"] == "connected", hello
    return ws


async def test_socket_opened_with_workflow_ids_gets_only_those_workflows(api, token, emit):
    user = uuid.uuid4()
    following = await _open(api, token(user), ["doc-a", "doc-b"], {})
    everything, _ = await connect(api.ws, token(user))
    await emit(user, "doc-a", "doc-c", "doc-b", "doc-c", "doc-a")
    got = await collect_signals(following, 3)
    assert [(s["workflow_id"], s["seq"]) for s in got] == [("doc-a", 1), ("doc-b", 3), ("doc-a", 5)]
    assert [s["seq"] for s in await collect_signals(everything, 5)] == [1, 2, 3, 4, 5]
    await following.send('{"type":"ping"}')
    assert await recv_json(following) == {"type": "pong"}  # control messages always
    assert await no_message(following, 0.3)
    for ws in (following, everything):
        await ws.close()


async def test_subscribe_and_unsubscribe_answer_with_the_whole_set(api, token, emit, user_id):
    ws, _ = await connect(api.ws, token(user_id))
    await ws.send('{"type":"subscribe","workflow_ids":["doc-a","doc-b"]}')
    assert await recv_json(ws) == {"type": "subscribed", "workflow_ids": ["doc-a", "doc-b"]}
    await ws.send('{"type":"subscribe","workflow_ids":["doc-b","١٢٣-ünï"]}')
    assert await recv_json(ws) == {"type": "subscribed", "workflow_ids": ["doc-a", "doc-b", "١٢٣-ünï"]}
    await ws.send('{"type":"unsubscribe","workflow_ids":["doc-a","never-followed"]}')
    assert await recv_json(ws) == {"type": "subscribed", "workflow_ids": ["doc-b", "١٢٣-ünï"]}
    await emit(user_id, "doc-a", "١٢٣-ünï", "doc-b")
    assert [s["workflow_id"] for s in await collect_signals(ws, 2)] == ["١٢٣-ünï", "doc-b"]

    await ws.send('{"type":"unsubscribe","workflow_ids":["doc-b","١٢٣-ünï"]}')
    assert await recv_json(ws) == {"type": "subscribed", "workflow_ids": []}
    await emit(user_id, "doc-z")  # an empty set is no filter: everything again
    assert [s["workflow_id"] for s in await collect_signals(ws, 1)] == ["doc-z"]
    await ws.close()


async def test_resume_of_a_filtered_socket_replays_only_its_workflows(api, token, emit, user_id):
    await emit(user_id, "doc-a", "doc-c", "doc-a", "doc-c")
    ws = await _open(api, token(user_id), ["doc-a"], {"since": 0})
    replayed = await collect_signals(ws, 2)
    assert [s["seq"] for s in replayed] == [1, 3]
    assert await recv_json(ws) == {"type": "resumed", "recovered": True}
    await emit(user_id, "doc-c", "doc-c", "doc-a")
    [live] = await collect_signals(ws, 1)
    assert live["seq"] == 7
    await ws.send('{"type":"resume","since":3}')
    assert [s["seq"] for s in await collect_signals(ws, 1)] == [7]
    assert await recv_json(ws) == {"type": "resumed", "recovered": True}
    assert await no_message(ws, 0.3)
    await ws.close()


async def test_other_workflows_traffic_never_looks_like_a_gap(api, token, emit, user_id):
    ws = await _open(api, token(user_id), ["rare"], {})
    workflows = ["busy"] * 40 + ["rare"] + ["busy"] * 40 + ["rare"]
    for _ in range(5):
        await emit(user_id, *workflows)
    got = await collect_signals(ws, 10)
    assert [s["seq"] % 82 for s in got] == [41, 0] * 5
    assert await no_message(ws, 0.5)  # no `resumed` (no catch-up storm), no duplicates
    await ws.close()


async def test_more_workflows_than_the_limit_at_connect_is_1008(api, token, user_id):
    query = "&".join(f"workflow_id=w{i}" for i in range(LIMIT + 1))
    ws = await websockets.connect(f"{api.ws}?token={token(user_id)}&{query}", open_timeout=10)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 1008 and f"at most {LIMIT} per socket" in closed.value.rcvd.reason


async def test_subscribing_past_the_limit_is_1008_and_the_reason_says_the_limit(api, token, user_id):
    ws, _ = await connect(api.ws, token(user_id))
    for start in range(0, LIMIT, 50):
        ids = ",".join(f'"w{i}"' for i in range(start, start + 50))
        await ws.send(f'{{"type":"subscribe","workflow_ids":[{ids}]}}')
        assert len((await recv_json(ws))["workflow_ids"]) == start + 50
    await ws.send('{"type":"subscribe","workflow_ids":["one-too-many"]}')
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 1008 and f"at most {LIMIT} per socket" in closed.value.rcvd.reason


@pytest.mark.parametrize(
    "message, reason",
    [
        ('{"type":"subscribe"}', "non-empty list"),
        ('{"type":"subscribe","workflow_ids":[]}', "non-empty list"),
        ('{"type":"subscribe","workflow_ids":"doc-a"}', "non-empty list"),
        ('{"type":"subscribe","workflow_ids":{"doc-a":1}}', "non-empty list"),
        ('{"type":"subscribe","workflow_ids":[""]}', "non-empty strings"),
        ('{"type":"subscribe","workflow_ids":[17]}', "non-empty strings"),
        ('{"type":"subscribe","workflow_ids":[null]}', "non-empty strings"),
        ('{"type":"subscribe","workflow_ids":[["nested"]]}', "non-empty strings"),
        ('{"type":"subscribe","workflow_ids":["' + "x" * 256 + '"]}', "at most 255"),
        ('{"type":"subscribe","workflow_ids":["a\\u0000b"]}', "NUL"),
        ('{"type":"unsubscribe","workflow_ids":["\\ud800"]}', "lone surrogates"),
        ('{"type":"subscribe","workflow_ids":' + "[" * 2000 + "]" * 2000 + "}", "not valid JSON"),
    ],
)
async def test_hostile_subscription_messages_close_with_1008_and_say_why(api, token, user_id, message, reason):
    ws, _ = await connect(api.ws, token(user_id))
    await ws.send(message)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 1008
    assert reason in closed.value.rcvd.reason


@pytest.mark.parametrize("value", ["", "a%00b", "x" * 256])
async def test_hostile_workflow_id_parameter_is_1008(api, token, user_id, value):
    ws = await websockets.connect(f"{api.ws}?token={token(user_id)}&workflow_id={value}", open_timeout=10)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd.code == 1008
