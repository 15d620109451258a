"""The pure part of inbox state: actions as SQL, PATCH bodies, the inbox message."""

from __future__ import annotations

import json
import uuid

import pytest

from signalhub.inbox_state import IDS_PER_MESSAGE, InboxCounts, Target, inbox_messages, patch_actions, patch_assignments


def test_a_patch_body_becomes_actions_in_field_order():
    assert patch_actions(read=True, seen=False, archived=True) == ["read", "unseen", "archive"]
    assert patch_actions(archived=False) == ["unarchive"]


def test_an_explicit_seen_wins_over_the_seen_of_reading():
    sql = patch_assignments(["read", "unseen"])
    assert "seen_at = NULL" in sql and "coalesce(seen_at" not in sql
    assert sql.count("seen_at =") == 1


def test_a_target_is_exactly_one_of_ids_workflow_and_all():
    for bad in ({}, {"ids": (), "all": True}, {"workflow_id": "w", "all": True}):
        with pytest.raises(ValueError):
            Target(**bad)


def test_the_message_keeps_the_seed_field_and_adds_counts_and_the_change():
    [message] = inbox_messages(InboxCounts(2, 1, 5), {"archived": True}, Target(workflow_id="wf-1"))
    assert json.loads(message) == {"type": "inbox", "unread_count": 2, "counts": {"unread": 2, "unseen": 1, "total": 5},
                                   "change": {"set": {"archived": True}, "workflow_id": "wf-1"}}


def test_many_changed_ids_are_split_into_messages_that_fit_a_notify():
    ids = [uuid.uuid4() for _ in range(IDS_PER_MESSAGE * 2 + 1)]
    messages = inbox_messages(InboxCounts(0, 0, 0), {"deleted": True}, Target(ids=tuple(ids)), ids)
    assert len(messages) == 3 and all(len(m.encode()) < 7900 for m in messages)
    assert [i for m in messages for i in json.loads(m)["change"]["ids"]] == [str(i) for i in ids]
