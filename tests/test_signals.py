"""The pure core: validation of the four signal types and the wire format."""

from __future__ import annotations

import json
import uuid

import pytest

from signalhub.signals import MAX_DATA_BYTES, NewSignal, Signal, SignalError, validate_signal

USER = uuid.uuid4()


@pytest.mark.parametrize(
    "signal_type, data",
    [
        ("status_update", {"status": "processing", "message": "Document processing started", "progress": 0.3}),
        ("progress", {"progress": 0.5, "step": "Generating embeddings", "message": "Creating vector embeddings"}),
        ("completion", {"result": {"status": "completed", "document_id": "doc-123", "text_length": 5000, "chunk_count": 25},
                        "message": "Document processing completed successfully"}),
        ("error", {"error": "Failed to extract text from document", "error_code": "EXTRACTION_ERROR"}),
    ],
)
def test_seed_examples_are_valid(signal_type, data):
    assert validate_signal(signal_type, "doc-123", data) == data


@pytest.mark.parametrize(
    "signal_type, data, complaint",
    [
        ("progress", {"progress": 1.5}, "between 0 and 1"),
        ("progress", {"progress": -0.1}, "between 0 and 1"),
        ("progress", {"progress": float("nan")}, "between 0 and 1"),
        ("progress", {"progress": True}, "must be a number"),
        ("progress", {"step": "x"}, "progress is required"),
        ("status_update", {"message": "no status"}, "data.status is required"),
        ("status_update", {"status": "x", "progress": 2}, "between 0 and 1"),
        ("error", {"error_code": "X"}, "data.error is required"),
        ("error", {"error": "boom", "error_code": 7}, "error_code must be a string"),
        ("completion", {"message": 3}, "message must be a string"),
    ],
)
def test_bad_data_is_refused_with_the_field_named(signal_type, data, complaint):
    with pytest.raises(SignalError, match=complaint):
        validate_signal(signal_type, "wf", data)


@pytest.mark.parametrize(
    "signal_type", ["Notification", "9x", "a" * 65, "new\n", "ünï", "ａｂ", "a b", "", None, 3, "progress\u0000"]
)
def test_signal_type_outside_the_pattern_is_refused(signal_type):
    with pytest.raises(SignalError, match="signal_type must match"):
        validate_signal(signal_type, "wf", {})


@pytest.mark.parametrize("signal_type", ["notification", "approval_needed", "billing.invoice-paid", "a", "a" * 64])
def test_custom_type_takes_any_object_as_data(signal_type):
    data = {"anything": [1, {"nested": None}], "text": "ünïcode ١٢٣"}
    assert validate_signal(signal_type, "wf", data) == data


def test_custom_type_data_must_be_an_object_within_the_size_limit():
    with pytest.raises(SignalError, match="JSON object"):
        validate_signal("note", "wf", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(SignalError, match="larger than"):
        validate_signal("note", "wf", {"blob": "x" * MAX_DATA_BYTES})


def test_allowlist_names_the_custom_types_accepted_and_always_keeps_the_seed_ones():
    allowed = {"approval_needed"}
    assert validate_signal("approval_needed", "wf", {}, allowed) == {}
    assert validate_signal("error", "wf", {"error": "x"}, allowed) == {"error": "x"}
    with pytest.raises(SignalError, match="not allowed here"):
        validate_signal("chat_message", "wf", {}, allowed)


@pytest.mark.parametrize("workflow_id", ["", "   ", "x" * 256, None])
def test_bad_workflow_id_is_refused(workflow_id):
    with pytest.raises(SignalError, match="workflow_id"):
        validate_signal("completion", workflow_id, {})


def test_oversized_data_is_refused():
    with pytest.raises(SignalError, match="larger than"):
        validate_signal("completion", "wf", {"result": "x" * MAX_DATA_BYTES})


def test_data_that_is_not_json_is_refused():
    with pytest.raises(SignalError, match="JSON"):
        validate_signal("completion", "wf", {"result": object()})


def test_non_uuid_user_is_refused():
    with pytest.raises(SignalError, match="user_id must be a UUID"):
        NewSignal.create("test-user", "completion", "wf", {})


def test_extra_keys_are_kept():
    data = validate_signal("progress", "wf", {"progress": 1, "eta_seconds": 4})
    assert data == {"progress": 1.0, "eta_seconds": 4}


def test_wire_parts_around_seq_form_the_same_json_as_the_stored_signal():
    new = NewSignal.create(USER, "progress", "doc-1", {"progress": 0.25, "step": "Chunking"})
    head, tail = new.wire_parts()
    stored = Signal(new.id, USER, 42, new.signal_type, new.workflow_id, new.data, new.timestamp)
    assert json.loads(head + "42" + tail) == json.loads(stored.wire())


def test_wire_format_is_the_seed_shape_plus_id_and_seq():
    new = NewSignal.create(USER, "error", "doc-1", {"error": "nope", "error_code": "E"})
    stored = Signal(new.id, USER, 7, new.signal_type, new.workflow_id, new.data, new.timestamp)
    wire = json.loads(stored.wire())
    assert set(wire) == {"id", "seq", "signal_type", "workflow_id", "data", "timestamp"}
    assert wire["timestamp"].endswith("Z")
    assert wire["seq"] == 7 and wire["id"] == str(new.id)


# -- checks made on the data's encoding, with the exact walk as the fallback ---------------


def test_brackets_inside_strings_do_not_count_as_nesting():
    data = {"status": "ok", "note": "{[" * 100}
    assert validate_signal("status_update", "wf", data) == data


def test_a_nul_in_a_key_or_a_string_is_refused_but_its_escaped_spelling_is_text():
    with pytest.raises(SignalError, match="NUL"):
        validate_signal("status_update", "wf", {"status": "ok", "k\x00": 1})
    with pytest.raises(SignalError, match="NUL"):
        validate_signal("status_update", "wf", {"status": "ok", "list": ["a\x00b"]})
    literal = {"status": "ok", "note": "\\u0000 is how JSON spells NUL"}
    assert validate_signal("status_update", "wf", literal) == literal


def test_a_lone_surrogate_anywhere_in_the_data_is_refused():
    with pytest.raises(SignalError, match="lone surrogates"):
        validate_signal("approval_needed", "wf", {"nested": {"x": ["\ud800"]}})
    emoji = {"status": "done \U0001f600"}
    assert validate_signal("status_update", "wf", emoji) == emoji


# -- ids ----------------------------------------------------------------------------------


def test_signal_ids_are_random_version_4_uuids_and_never_repeat():
    ids = [NewSignal.create(USER, "completion", "wf").id for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {4} and {i.variant for i in ids} == {uuid.RFC_4122}


def test_a_forked_child_makes_other_ids_than_its_parent():
    import os

    from signalhub.signals import new_signal_id

    new_signal_id()  # the parent holds unused ids now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave at once
        os.write(write, "".join(str(new_signal_id()) for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = [str(new_signal_id()) for _ in range(10)]
    assert len(child) == 360 and not any(i in child for i in parent)
