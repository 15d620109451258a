"""Inbox state over the REST API (counts, PATCH, DELETE, bulk) against a real API process and database."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from signalhub.signals import NewSignal
from tests.support import connect, no_message, recv_json

WORKFLOWS = ("doc-a", "doc-a", "doc-a", "doc-b", "doc-b")


@pytest.fixture
async def inbox(api, store, token):
    """A user with five stored signals (three of doc-a, two of doc-b), oldest first, and their client."""
    user = uuid.uuid4()
    stored = await store.insert_many(
        [NewSignal.create(user, "status_update", wf, {"status": f"step {i}"}) for i, wf in enumerate(WORKFLOWS)]
    )
    ids = [str(signal.id) for signal, _ in stored]
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(user)}"}) as http:
        yield user, ids, http


@pytest.fixture
async def intruder(api, token):
    async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token(uuid.uuid4())}"}) as http:
        yield http


async def listed(http, **params) -> list[str]:
    body = (await http.get("/api/v1/inbox/signals", params=params)).json()
    return [s["id"] for s in reversed(body["signals"])]  # oldest first, like the fixture's ids


async def counts(http) -> dict:
    return (await http.get("/api/v1/inbox/counts")).json()


async def test_every_signal_object_carries_read_seen_and_archived_state(inbox):
    _, ids, http = inbox
    [newest, *_] = (await http.get("/api/v1/inbox/signals")).json()["signals"]
    assert {k: newest[k] for k in ("read", "read_at", "seen", "seen_at", "archived", "archived_at")} == {
        "read": False, "read_at": None, "seen": False, "seen_at": None, "archived": False, "archived_at": None}
    assert await counts(http) == {"unread": 5, "unseen": 5, "total": 5}


async def test_patch_answers_the_updated_signal_and_moves_the_counts(inbox):
    _, ids, http = inbox
    seen = await http.patch(f"/api/v1/inbox/signals/{ids[0]}", json={"seen": True})
    assert seen.status_code == 200 and seen.json()["seen"] is True and seen.json()["seen_at"].endswith("Z")
    assert seen.json()["read"] is False
    read = (await http.patch(f"/api/v1/inbox/signals/{ids[1]}", json={"read": True})).json()
    assert read["read"] is True and read["seen"] is True, "reading implies seeing"
    assert await counts(http) == {"unread": 4, "unseen": 3, "total": 5}
    unread = (await http.patch(f"/api/v1/inbox/signals/{ids[1]}", json={"read": False, "seen": False})).json()
    assert (unread["read"], unread["read_at"], unread["seen"]) == (False, None, False)
    assert await counts(http) == {"unread": 5, "unseen": 4, "total": 5}


async def test_archived_signals_leave_the_default_list_and_the_counts(inbox):
    _, ids, http = inbox
    archived = (await http.patch(f"/api/v1/inbox/signals/{ids[2]}", json={"archived": True})).json()
    assert archived["archived"] is True and archived["archived_at"]
    assert await listed(http) == ids[:2] + ids[3:]
    assert await listed(http, archived="false") == ids[:2] + ids[3:]
    assert await listed(http, archived="true") == [ids[2]]
    assert await listed(http, archived="any") == ids
    assert await counts(http) == {"unread": 4, "unseen": 4, "total": 4}
    assert (await http.get("/api/v1/inbox/signals/unread-count")).json() == {"unread_count": 4}
    await http.patch(f"/api/v1/inbox/signals/{ids[2]}", json={"archived": False})
    assert await listed(http) == ids and (await counts(http))["total"] == 5


async def test_seen_filter(inbox):
    _, ids, http = inbox
    await http.patch(f"/api/v1/inbox/signals/{ids[0]}", json={"seen": True})
    assert await listed(http, seen="true") == ids[:1]
    assert await listed(http, seen="false") == ids[1:]


async def test_delete_removes_the_signal_from_every_list_and_count(inbox):
    _, ids, http = inbox
    await http.patch(f"/api/v1/inbox/signals/{ids[4]}", json={"archived": True})
    for gone in (ids[0], ids[4]):
        response = await http.delete(f"/api/v1/inbox/signals/{gone}")
        assert response.status_code == 204 and response.content == b""
    assert await listed(http, archived="any") == ids[1:4]
    assert await listed(http, workflow_id="doc-a") == ids[1:3]
    assert await counts(http) == {"unread": 3, "unseen": 3, "total": 3}
    for again in (http.delete(f"/api/v1/inbox/signals/{ids[0]}"),
                  http.patch(f"/api/v1/inbox/signals/{ids[0]}", json={"read": True}),
                  http.post(f"/api/v1/inbox/signals/{ids[0]}/read")):
        assert (await again).status_code == 404
    assert (await http.post("/api/v1/inbox/signals/mark-all-read")).json() == {"updated": 3}


async def test_another_users_signal_cannot_be_patched_or_deleted(inbox, intruder):
    _, ids, owner = inbox
    for attempt in (intruder.patch(f"/api/v1/inbox/signals/{ids[0]}", json={"read": True, "archived": True}),
                    intruder.delete(f"/api/v1/inbox/signals/{ids[0]}")):
        response = await attempt
        assert response.status_code == 404 and response.json() == {"detail": "signal not found"}
    assert await counts(intruder) == {"unread": 0, "unseen": 0, "total": 0}
    assert await listed(owner) == ids and await counts(owner) == {"unread": 5, "unseen": 5, "total": 5}


async def test_unknown_id_is_404_and_malformed_id_is_422(inbox):
    _, _, http = inbox
    assert (await http.patch(f"/api/v1/inbox/signals/{uuid.uuid4()}", json={"seen": True})).status_code == 404
    assert (await http.delete(f"/api/v1/inbox/signals/{uuid.uuid4()}")).status_code == 404
    assert (await http.delete("/api/v1/inbox/signals/١٢٣")).status_code == 422
    assert (await http.patch("/api/v1/inbox/signals/not-a-uuid", json={"seen": True})).status_code == 422


@pytest.mark.parametrize(
    "body",
    [{}, {"read": None}, {"read": "true"}, {"read": 1}, {"seen": "yes"}, {"archived": []}, {"pinned": True},
     {"read": True, "extra": 1}, [], "read", 7],
)
async def test_patch_refuses_bodies_that_are_not_booleans(inbox, body):
    _, ids, http = inbox
    response = await http.patch(f"/api/v1/inbox/signals/{ids[0]}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert await counts(http) == {"unread": 5, "unseen": 5, "total": 5}


async def test_patch_with_deeply_nested_json_is_a_clear_error(inbox):
    _, ids, http = inbox
    deep = '{"read": ' + "[" * 5000 + "]" * 5000 + "}"
    response = await http.patch(f"/api/v1/inbox/signals/{ids[0]}", content=deep,
                                headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 413, 422), response.text
    assert response.json()["detail"]
    assert await counts(http) == {"unread": 5, "unseen": 5, "total": 5}


@pytest.mark.parametrize(
    "action, before, expected_updated, expected_counts",
    [
        ("read", {}, 3, {"unread": 2, "unseen": 2, "total": 5}),
        ("unread", {"action": "read", "all": True}, 3, {"unread": 3, "unseen": 0, "total": 5}),
        ("seen", {}, 3, {"unread": 5, "unseen": 2, "total": 5}),
        ("archive", {}, 3, {"unread": 2, "unseen": 2, "total": 2}),
        ("unarchive", {"action": "archive", "all": True}, 3, {"unread": 3, "unseen": 3, "total": 3}),
        ("delete", {}, 3, {"unread": 2, "unseen": 2, "total": 2}),
    ],
)
async def test_bulk_action_on_a_workflow(inbox, action, before, expected_updated, expected_counts):
    _, ids, http = inbox
    if before:
        assert (await http.post("/api/v1/inbox/bulk", json=before)).status_code == 200
    response = await http.post("/api/v1/inbox/bulk", json={"action": action, "workflow_id": "doc-a"})
    assert response.status_code == 200 and response.json() == {"updated": expected_updated}
    assert await counts(http) == expected_counts
    again = await http.post("/api/v1/inbox/bulk", json={"action": action, "workflow_id": "doc-a"})
    assert again.json() == {"updated": 0}, "an action counts only signals it changed"


async def test_bulk_by_ids_and_all(inbox):
    _, ids, http = inbox
    by_ids = await http.post("/api/v1/inbox/bulk", json={"action": "archive", "ids": [ids[0], ids[3], ids[3]]})
    assert by_ids.json() == {"updated": 2}
    assert await listed(http, archived="true") == [ids[0], ids[3]]
    assert (await http.post("/api/v1/inbox/bulk", json={"action": "delete", "all": True})).json() == {"updated": 5}
    assert await listed(http, archived="any") == [] and await counts(http) == {"unread": 0, "unseen": 0, "total": 0}
    assert (await http.post("/api/v1/inbox/bulk", json={"action": "read", "ids": []})).json() == {"updated": 0}


async def test_bulk_never_touches_another_users_signals(inbox, intruder):
    _, ids, owner = inbox
    for action in ("read", "seen", "archive", "delete"):
        for target in ({"ids": ids}, {"workflow_id": "doc-a"}, {"all": True}):
            response = await intruder.post("/api/v1/inbox/bulk", json={"action": action, **target})
            assert response.json() == {"updated": 0}
    assert await listed(owner) == ids and await counts(owner) == {"unread": 5, "unseen": 5, "total": 5}


@pytest.mark.parametrize(
    "body",
    [
        {"action": "read"},
        {"action": "read", "all": True, "workflow_id": "doc-a"},
        {"action": "read", "ids": [], "all": True},
        {"action": "read", "all": False},
        {"action": "read", "all": "true"},
        {"action": "purge", "all": True},
        {"action": "unseen", "all": True},
        {"action": "READ", "all": True},
        {"action": "read", "ids": ["١٢٣٤٥٦٧٨-1234-1234-1234-123456789012"]},
        {"action": "read", "ids": "all"},
        {"action": "read", "ids": [str(uuid.uuid4()) for _ in range(1001)]},
        {"action": "read", "workflow_id": ""},
        {"action": "read", "workflow_id": "x" * 256},
        {"action": "read", "workflow_id": "a\x00b"},
        {"action": "read", "workflow_id": {"$ne": None}},
        {"action": "read", "all": True, "limit": 5},
    ],
)
async def test_bulk_refuses_hostile_bodies(inbox, body):
    _, _, http = inbox
    response = await http.post("/api/v1/inbox/bulk", json=body)
    assert response.status_code == 422, response.text
    assert await counts(http) == {"unread": 5, "unseen": 5, "total": 5}


async def test_bulk_workflow_id_with_a_lone_surrogate_is_422_not_500(inbox):
    _, _, http = inbox
    response = await http.post("/api/v1/inbox/bulk", content=b'{"action": "read", "workflow_id": "\\ud800"}',
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text


async def test_list_refuses_bad_archived_and_seen_filters(inbox):
    _, _, http = inbox
    for params in ({"archived": "maybe"}, {"archived": "١"}, {"seen": "sometimes"}, {"archived": ""}):
        assert (await http.get("/api/v1/inbox/signals", params=params)).status_code == 422


async def test_every_change_reaches_the_users_other_sockets_with_counts_and_what_changed(api, inbox, token):
    user, ids, http = inbox
    other_tab, _ = await connect(api.ws, token(user))
    stranger, _ = await connect(api.ws, token(uuid.uuid4()))
    try:
        await http.patch(f"/api/v1/inbox/signals/{ids[0]}", json={"archived": True, "seen": True})
        assert await recv_json(other_tab) == {
            "type": "inbox", "unread_count": 4, "counts": {"unread": 4, "unseen": 4, "total": 4},
            "change": {"set": {"seen": True, "archived": True}, "ids": [ids[0]]}}
        await http.post("/api/v1/inbox/bulk", json={"action": "read", "workflow_id": "doc-b"})
        message = await recv_json(other_tab)
        assert message["counts"] == {"unread": 2, "unseen": 2, "total": 4}
        assert message["change"] == {"set": {"read": True, "seen": True}, "workflow_id": "doc-b"}
        await http.delete(f"/api/v1/inbox/signals/{ids[1]}")
        message = await recv_json(other_tab)
        assert message["change"] == {"set": {"deleted": True}, "ids": [ids[1]]}
        assert message["counts"] == {"unread": 1, "unseen": 1, "total": 3}
        await http.post("/api/v1/inbox/signals/mark-all-read")
        message = await recv_json(other_tab)
        assert message["unread_count"] == 0 and message["change"] == {"set": {"read": True, "seen": True}, "all": True}
        # Nothing changed: nothing announced. And nothing ever reaches another user.
        await http.post("/api/v1/inbox/bulk", json={"action": "read", "all": True})
        assert await no_message(other_tab) and await no_message(stranger, 0.1)
    finally:
        await asyncio.gather(other_tab.close(), stranger.close())
