"""The pure workflow filter of one socket: parsing, the set, its limit."""

from __future__ import annotations

import json

import pytest

from signalhub.subscriptions import SubscriptionError, WorkflowFilter, parse_workflow_ids


def test_an_empty_filter_wants_everything_and_a_set_only_its_workflows():
    workflows = WorkflowFilter(10)
    assert not workflows and workflows.wants("any")
    workflows.subscribe(["a", "b", "a"])
    assert workflows.workflow_ids == ["a", "b"]
    assert workflows.wants("a") and not workflows.wants("c")
    assert workflows.wants(None)  # a frame too big for the broker: decided by the filtered re-read


def test_unsubscribing_the_last_workflow_means_everything_again():
    workflows = WorkflowFilter(10, ["a"])
    workflows.unsubscribe(["a", "never"])
    assert json.loads(workflows.answer()) == {"type": "subscribed", "workflow_ids": []}
    assert workflows.wants("z")


def test_the_limit_is_per_socket_and_a_refused_subscribe_changes_nothing():
    workflows = WorkflowFilter(3, ["a", "b"])
    workflows.subscribe(["b", "c"])  # b is already there: only c counts
    with pytest.raises(SubscriptionError, match="at most 3 per socket"):
        workflows.subscribe(["d"])
    assert workflows.workflow_ids == ["a", "b", "c"]


@pytest.mark.parametrize(
    "value, complaint",
    [
        (None, "non-empty list"), ([], "non-empty list"), ("a", "non-empty list"), ({"a": 1}, "non-empty list"),
        ([""], "non-empty strings"), ([1], "non-empty strings"), ([True], "non-empty strings"),
        ([["a"]], "non-empty strings"), (["x" * 256], "at most 255"), (["a\x00"], "NUL"),
        (["\ud800"], "lone surrogates"), (["w"] * 11, "at most 10 per socket"),
    ],
)
def test_hostile_workflow_id_lists_are_refused_with_a_reason(value, complaint):
    with pytest.raises(SubscriptionError, match=complaint):
        parse_workflow_ids(value, 10)


def test_any_storable_text_is_a_workflow_id():
    ids = ["١٢٣", "doc-🚀", "x" * 255, " spaced "]
    assert parse_workflow_ids(ids, 10) == ids
