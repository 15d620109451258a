"""Every wire format, defined once in `signalhub.wire`: what it writes is what
its readers (hub, send queue, metrics) read back, whatever the data holds."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from signalhub.signals import Signal
from signalhub.wire import (
    SIGNAL_TYPES,
    broker_frame,
    connected,
    is_progress,
    notify_parts,
    parse_broker_frame,
    resumed,
    signal_json,
    signal_json_parts,
    signal_type_of,
    timestamp_of,
    workflow_id_of,
)

WHEN = datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=UTC)
# Data that imitates the keys the readers look for, at every depth.
TRICKY = {"timestamp": "1999-01-01T00:00:00Z", "signal_type": "progress", "nested": {"workflow_id": "fake"},
          "text": ',"signal_type":"progress","workflow_id":"x","timestamp":"2000-01-01T00:00:00Z"'}


def test_signal_json_is_the_seed_shape_with_id_and_seq_in_that_key_order():
    text = signal_json(uuid.UUID(int=7), 42, "status_update", "wf-1", {"status": "ok"}, WHEN)
    assert list(json.loads(text)) == ["id", "seq", "signal_type", "workflow_id", "data", "timestamp"]
    assert json.loads(text)["timestamp"] == "2026-12-01T08:30:00.123456Z"


def test_the_split_form_joined_around_the_seq_is_the_same_text():
    head, tail = signal_json_parts(uuid.UUID(int=7), "error", "wf", {"error": "x"}, WHEN)
    assert head + "9" + tail == signal_json(uuid.UUID(int=7), 9, "error", "wf", {"error": "x"}, WHEN)


def test_a_stored_signal_renders_through_the_same_function():
    s = Signal(uuid.uuid4(), uuid.uuid4(), 3, "completion", "wf", {"result": None}, WHEN)
    assert s.wire() == signal_json(s.id, 3, "completion", "wf", {"result": None}, WHEN)


@pytest.mark.parametrize("workflow_id", ["plain", 'quo"te', "back\\slash", "ünïcödé ✓", "new\nline"])
def test_readers_find_the_real_fields_even_when_data_imitates_them(workflow_id):
    text = signal_json(uuid.uuid4(), 5, "status_update", workflow_id, TRICKY, WHEN)
    assert signal_type_of(text) == "status_update"
    assert not is_progress(text)
    assert workflow_id_of(text) == workflow_id
    assert timestamp_of(text) == WHEN.timestamp()


def test_a_progress_signal_is_recognised_without_decoding():
    assert is_progress(signal_json(uuid.uuid4(), 1, "progress", "wf", {"progress": 0.5}, WHEN))


def test_readers_answer_none_for_text_without_the_field():
    assert signal_type_of('{"type":"pong"}') is None
    assert workflow_id_of('{"type":"pong"}') is None
    assert timestamp_of('{"type":"pong"}') is None
    assert timestamp_of('{"seq":1,"timestamp":"not a time"}') is None


@pytest.mark.parametrize("seq", [None, 0, 1, 2**63 - 1])
def test_a_broker_frame_parses_back_to_what_was_written(seq):
    user = uuid.uuid4()
    payload = '{"text":"with\\nescaped newline and a real one:\n"}'
    assert parse_broker_frame(broker_frame(user, seq, payload)) == (str(user), seq, payload)


def test_an_empty_payload_means_read_it_from_the_database():
    assert parse_broker_frame(broker_frame("u", 3, "")) == ("u", 3, None)


@pytest.mark.parametrize("frame", ["", "u", "u\n1", "u\nx\n{}", "u\n-1\n{}", "u\n1.5\n{}"])
def test_a_malformed_broker_frame_is_a_value_error(frame):
    with pytest.raises(ValueError):
        parse_broker_frame(frame)


def test_notify_parts_build_the_broker_frame_and_fall_back_to_seq_only_when_too_big():
    head, tail = signal_json_parts(uuid.UUID(int=1), "status_update", "wf", {"status": "ü" * 10}, WHEN)
    prefix, middle, rest = notify_parts("user", head, tail, limit=7900)
    assert rest is not None and prefix + "4" + middle + "4" + rest == broker_frame("user", 4, head + "4" + tail)
    # The limit counts bytes: 3,000 two-byte characters are 6,000 bytes.
    head, tail = signal_json_parts(uuid.UUID(int=1), "status_update", "wf", {"status": "ü" * 3000}, WHEN)
    assert notify_parts("user", head, tail, limit=5000) == ("user\n", "\n", None)


def test_control_messages_and_signal_types():
    assert json.loads(connected(uuid.UUID(int=1), 5)) == {"type": "connected", "user_id": str(uuid.UUID(int=1)), "seq": 5}
    assert json.loads(resumed(False)) == {"type": "resumed", "recovered": False}
    assert SIGNAL_TYPES == ("status_update", "progress", "completion", "error")
