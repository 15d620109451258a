"""The four signal types, their validation and their wire format.

Pure: no I/O, no asyncio. A *signal* here is an event from a workflow to a
user (status, progress, completion, error). It is not a Temporal Signal,
which is a message *into* a workflow.

Guarantees:
- `validate_signal` accepts exactly the seed's data shapes (extra keys are
  kept, so callers may attach their own fields) and raises `SignalError` with
  a message naming the offending field otherwise.
- `Signal.wire()` is the exact JSON text sent to clients and is computed once
  per signal, never per connection.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from .parsing import json_depth

SignalType = Literal["status_update", "progress", "completion", "error"]
SIGNAL_TYPES: tuple[str, ...] = get_args(SignalType)

MAX_WORKFLOW_ID_LENGTH = 255
MAX_DATA_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 512
#: Deepest nesting of objects/arrays in `data` (the object itself is level 1);
#: deeper is refused at emit (422), and rows stored deeper before are served with
#: `UNSERVABLE_DATA` in place of their data (docs/security.md).
MAX_DATA_DEPTH = 32
UNSERVABLE_DATA = {"signalhub_unservable": f"data is nested deeper than {MAX_DATA_DEPTH} levels"}


class SignalError(ValueError):
    """The signal is malformed; the message says which field and why."""


def _progress(value: Any, field_name: str = "progress") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignalError(f"data.{field_name} must be a number between 0 and 1")
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise SignalError(f"data.{field_name} must be between 0 and 1, got {value!r}")
    return float(value)


def _optional_text(data: dict[str, Any], key: str) -> None:
    if key in data and data[key] is not None and not isinstance(data[key], str):
        raise SignalError(f"data.{key} must be a string")


def _required_text(data: dict[str, Any], key: str) -> None:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SignalError(f"data.{key} is required and must be a non-empty string")


def _validate_data(signal_type: str, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if signal_type == "status_update":
        _required_text(data, "status")
        _optional_text(data, "message")
        if data.get("progress") is not None:
            data["progress"] = _progress(data["progress"])
    elif signal_type == "progress":
        if "progress" not in data:
            raise SignalError("data.progress is required for a progress signal")
        data["progress"] = _progress(data["progress"])
        _optional_text(data, "step")
        _optional_text(data, "message")
    elif signal_type == "completion":
        _optional_text(data, "message")
    elif signal_type == "error":
        _required_text(data, "error")
        _optional_text(data, "error_code")
    return data


def _storable_text(name: str, text: str) -> None:
    """PostgreSQL text and jsonb hold neither NUL nor lone UTF-16 surrogates."""
    if "\x00" in text:
        raise SignalError(f"{name} must not contain NUL characters")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise SignalError(f"{name} must be valid Unicode (no lone surrogates)") from None


def _storable_strings(data: dict[str, Any]) -> None:
    """`_storable_text` for every key and string in `data` (iterative: nesting depth is the caller's)."""
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _storable_text("data", item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def validate_signal(
    signal_type: str, workflow_id: str, data: dict[str, Any] | None
) -> dict[str, Any]:
    """Check a signal's type, workflow id and data; return the normalised data."""
    if signal_type not in SIGNAL_TYPES:
        raise SignalError(
            f"signal_type must be one of {', '.join(SIGNAL_TYPES)}, got {signal_type!r}"
        )
    if not isinstance(workflow_id, str) or not workflow_id.strip():
        raise SignalError("workflow_id is required and must be a non-empty string")
    if len(workflow_id) > MAX_WORKFLOW_ID_LENGTH:
        raise SignalError(f"workflow_id is longer than {MAX_WORKFLOW_ID_LENGTH} characters")
    _storable_text("workflow_id", workflow_id)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SignalError("data must be a JSON object")
    if json_depth(data, limit=MAX_DATA_DEPTH) > MAX_DATA_DEPTH:
        raise SignalError(f"data is nested deeper than {MAX_DATA_DEPTH} levels")
    data = _validate_data(signal_type, data)
    _storable_strings(data)
    try:
        encoded = _CHECKING_ENCODER.encode(data)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"data must be JSON-serialisable: {exc}") from None
    if len(encoded.encode()) > MAX_DATA_BYTES:
        raise SignalError(f"data is larger than {MAX_DATA_BYTES} bytes once encoded")
    return data


def parse_user_id(value: Any) -> uuid.UUID:
    """A user id is a UUID (Supabase `auth.users.id`)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise SignalError(f"user_id must be a UUID, got {value!r}") from None


def servable_data(data: Any) -> Any:
    """`data` as read back, or `UNSERVABLE_DATA` when it nests deeper than `MAX_DATA_DEPTH`
    (a row stored before the limit existed): one such row must not make an inbox page
    fail to serialise, nor a replay fail to encode, again and again."""
    if json_depth(data, limit=MAX_DATA_DEPTH) > MAX_DATA_DEPTH:
        return dict(UNSERVABLE_DATA)
    return data


def format_timestamp(ts: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, as in the seed's examples."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Built once: `json.dumps` with any non-default option builds a new encoder on every call,
# which is a third of the cost of encoding a small signal.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_CHECKING_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON, the one encoding used on the wire and in the broker."""
    return _ENCODER.encode(value)


@dataclass(frozen=True, slots=True)
class NewSignal:
    """A validated signal that has not been stored yet (no `seq`)."""

    user_id: uuid.UUID
    signal_type: str
    workflow_id: str
    data: dict[str, Any]
    idempotency_key: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def create(
        cls,
        user_id: Any,
        signal_type: str,
        workflow_id: str,
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> NewSignal:
        """Validate everything and build the signal, or raise `SignalError`."""
        user = parse_user_id(user_id)
        clean = validate_signal(signal_type, workflow_id, data)
        if idempotency_key is not None and (
            not isinstance(idempotency_key, str)
            or not idempotency_key
            or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH
        ):
            raise SignalError(
                f"idempotency_key must be a non-empty string of at most "
                f"{MAX_IDEMPOTENCY_KEY_LENGTH} characters"
            )
        return cls(user, signal_type, workflow_id, clean, idempotency_key)

    def wire_parts(self, data_json: str | None = None) -> tuple[str, str]:
        """The wire JSON split around the not-yet-known seq: `head + str(seq) + tail`.

        Lets the database put the seq it assigns into the message without the
        message being encoded a second time. `data_json`: `dumps(self.data)`,
        when the caller has it already.
        """
        head = '{"id":"%s","seq":' % self.id
        tail = ',"signal_type":%s,"workflow_id":%s,"data":%s,"timestamp":%s}' % (
            dumps(self.signal_type),
            dumps(self.workflow_id),
            dumps(self.data) if data_json is None else data_json,
            dumps(format_timestamp(self.timestamp)),
        )
        return head, tail


@dataclass(frozen=True, slots=True)
class Signal:
    """A stored signal. `seq` increases per user in commit order (it may skip numbers)."""

    id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    signal_type: str
    workflow_id: str
    data: dict[str, Any]
    timestamp: datetime
    read: bool = False
    read_at: datetime | None = None
    created_at: datetime | None = None
    seen_at: datetime | None = None
    archived_at: datetime | None = None

    def wire(self) -> str:
        """The exact text a client receives: the seed's shape plus `id` and `seq`."""
        return dumps(self.to_wire_dict())

    def to_wire_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "seq": self.seq,
            "signal_type": self.signal_type,
            "workflow_id": self.workflow_id,
            "data": self.data,
            "timestamp": format_timestamp(self.timestamp),
        }

    def to_inbox_dict(self) -> dict[str, Any]:
        """The REST representation: the wire fields plus read, seen and archived state."""
        out = self.to_wire_dict()
        out["read"] = self.read
        out["read_at"] = format_timestamp(self.read_at) if self.read_at else None
        out["seen"] = self.seen_at is not None
        out["seen_at"] = format_timestamp(self.seen_at) if self.seen_at else None
        out["archived"] = self.archived_at is not None
        out["archived_at"] = format_timestamp(self.archived_at) if self.archived_at else None
        return out
