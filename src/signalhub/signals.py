"""Signal types, their validation and their wire format.

Pure: no I/O, no asyncio. A *signal* here is an event from a workflow to a
user (status, progress, completion, error, or a type of the application's
own). It is not a Temporal Signal, which is a message *into* a workflow.

Guarantees:
- the four seed types (`SEED_SIGNAL_TYPES`) keep the seed's data shapes
  (extra keys are kept, so callers may attach their own fields);
- any other `signal_type` matching `SIGNAL_TYPE_PATTERN` is a custom type
  whose `data` is any JSON object (same size limit), unless an allowlist is
  given, which then names the custom types accepted;
- `validate_signal` raises `SignalError` with a message naming the offending
  field otherwise.
- `Signal.wire()` is the exact JSON text sent to clients and is computed once
  per signal, never per connection (`wire.signal_json`).
"""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .parsing import json_depth
from .wire import SEED_SIGNAL_TYPES, SIGNAL_TYPE_PATTERN, dumps, format_timestamp, signal_json, signal_json_parts

_SIGNAL_TYPE_RE = re.compile(SIGNAL_TYPE_PATTERN.replace("$", r"\Z"))

MAX_WORKFLOW_ID_LENGTH = 255
MAX_DATA_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 512
#: Deepest nesting of objects/arrays in `data` (the object itself is level 1);
#: deeper is refused at emit (422), and rows stored deeper before are served with
#: `UNSERVABLE_DATA` in place of their data (docs/security.md).
MAX_DATA_DEPTH = 32
UNSERVABLE_DATA = {"signalhub_unservable": f"data is nested deeper than {MAX_DATA_DEPTH} levels"}


#: Signal ids made per `os.urandom` call (see `new_signal_id`).
_IDS_PER_DRAW = 256
_ids: list[uuid.UUID] = []
_V4_KEEP = ~(0xF000 << 64) & ~(0xC000 << 48)  # all but the version and variant bits
_V4_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_signal_id() -> uuid.UUID:
    """A random (version 4) UUID, as `uuid.uuid4()` makes, from the same source.

    Why not `uuid.uuid4()`: it reads the kernel's random source once per id, and
    that system call costs more than the rest of making an id. Here one read
    makes `_IDS_PER_DRAW` ids; a forked child starts with none (below), so a
    parent and its child never hand out the same ones.
    """
    try:
        return _ids.pop()
    except IndexError:
        raw = os.urandom(16 * _IDS_PER_DRAW)
        # What `uuid.UUID(bytes=…, version=4)` does, as one mask (cheaper than its keyword path).
        _ids.extend(
            uuid.UUID(int=int.from_bytes(raw[i : i + 16]) & _V4_KEEP | _V4_SET) for i in range(0, len(raw), 16)
        )
        return _ids.pop()


os.register_at_fork(after_in_child=_ids.clear)


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


def is_seed_type(signal_type: str) -> bool:
    return signal_type in SEED_SIGNAL_TYPES


def check_signal_type(signal_type: Any, allowed: Collection[str] | None = None) -> str:
    """The type itself, or `SignalError`: a seed type, or a custom one matching
    `SIGNAL_TYPE_PATTERN` (and listed in `allowed` when an allowlist is given)."""
    if not isinstance(signal_type, str) or not _SIGNAL_TYPE_RE.match(signal_type):
        raise SignalError(
            f"signal_type must match {SIGNAL_TYPE_PATTERN} (e.g. progress, approval_needed), "
            f"got {signal_type!r:.80}"
        )
    if allowed is not None and signal_type not in SEED_SIGNAL_TYPES and signal_type not in allowed:
        raise SignalError(
            f"signal_type {signal_type!r} is not allowed here; allowed: "
            f"{', '.join((*SEED_SIGNAL_TYPES, *sorted(allowed)))}"
        )
    return signal_type


def validate_signal(
    signal_type: str,
    workflow_id: str,
    data: dict[str, Any] | None,
    allowed_types: Collection[str] | None = None,
) -> dict[str, Any]:
    """Check a signal's type, workflow id and data; return the normalised data.

    `allowed_types`: the custom types accepted besides the seed's four (None: any).
    """
    return _validated(signal_type, workflow_id, data, allowed_types)[0]


def _validated(
    signal_type: str, workflow_id: str, data: dict[str, Any] | None, allowed_types: Collection[str] | None
) -> tuple[dict[str, Any], str]:
    """`validate_signal`, plus the data's wire encoding (made once: stored, announced and sent as is).

    The data is checked on its encoding, which is made anyway: each of these
    checks is one pass in C over the text, and only data that trips one is
    walked in Python for the exact answer (this runs for every signal emitted).
    """
    check_signal_type(signal_type, allowed_types)
    if not isinstance(workflow_id, str) or not workflow_id.strip():
        raise SignalError("workflow_id is required and must be a non-empty string")
    if len(workflow_id) > MAX_WORKFLOW_ID_LENGTH:
        raise SignalError(f"workflow_id is longer than {MAX_WORKFLOW_ID_LENGTH} characters")
    _storable_text("workflow_id", workflow_id)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SignalError("data must be a JSON object")
    data = _validate_data(signal_type, data)
    try:
        encoded = dumps(data)
    except RecursionError:  # nested far deeper than the limit
        raise SignalError(f"data is nested deeper than {MAX_DATA_DEPTH} levels") from None
    except (TypeError, ValueError) as exc:
        raise SignalError(f"data must be JSON-serialisable: {exc}") from None
    # Every object or array puts a "{" or "[" into the encoding, so data whose encoding
    # holds no more of them than the limit cannot nest deeper (brackets inside strings
    # only overcount, and then the exact count decides).
    if (
        encoded.count("{") + encoded.count("[") > MAX_DATA_DEPTH
        and json_depth(data, limit=MAX_DATA_DEPTH) > MAX_DATA_DEPTH
    ):
        raise SignalError(f"data is nested deeper than {MAX_DATA_DEPTH} levels")
    # A NUL in a key or string is encoded as \u0000 (or the text holds a backslash before
    # "u0000"), and a lone surrogate makes the UTF-8 encoding fail: the exact walk
    # then names the problem (or finds none).
    try:
        size = len(encoded.encode())
    except UnicodeEncodeError:
        _storable_strings(data)
        raise SignalError("data must be valid Unicode (no lone surrogates)") from None
    if "\\u0000" in encoded:
        _storable_strings(data)
    if size > MAX_DATA_BYTES:
        raise SignalError(f"data is larger than {MAX_DATA_BYTES} bytes once encoded")
    return data, encoded


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


@dataclass(frozen=True, slots=True)
class NewSignal:
    """A validated signal that has not been stored yet (no `seq`)."""

    user_id: uuid.UUID
    signal_type: str
    workflow_id: str
    data: dict[str, Any]
    idempotency_key: str | None = None
    id: uuid.UUID = field(default_factory=new_signal_id)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: `dumps(data)`, kept from validation ("" when not given: computed on use).
    data_json: str = field(default="", compare=False, repr=False)

    @classmethod
    def create(
        cls,
        user_id: Any,
        signal_type: str,
        workflow_id: str,
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        *,
        allowed_types: Collection[str] | None = None,
    ) -> NewSignal:
        """Validate everything and build the signal, or raise `SignalError`."""
        user = parse_user_id(user_id)
        clean, encoded = _validated(signal_type, workflow_id, data, allowed_types)
        if idempotency_key is not None and (
            not isinstance(idempotency_key, str)
            or not idempotency_key
            or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH
        ):
            raise SignalError(
                f"idempotency_key must be a non-empty string of at most "
                f"{MAX_IDEMPOTENCY_KEY_LENGTH} characters"
            )
        return cls(user, signal_type, workflow_id, clean, idempotency_key, data_json=encoded)

    def for_user(self, user_id: Any) -> NewSignal:
        """The same signal for another recipient: a new id, the same (validated) data and timestamp."""
        return NewSignal(
            parse_user_id(user_id), self.signal_type, self.workflow_id, self.data,
            self.idempotency_key, timestamp=self.timestamp, data_json=self.data_json,
        )

    def encoded_data(self) -> str:
        """The data as compact JSON (the validated encoding when there is one)."""
        return self.data_json or dumps(self.data)

    def wire_parts(self) -> tuple[str, str]:
        """The wire JSON split around the not-yet-known seq: `head + str(seq) + tail`.

        Lets the database put the seq it assigns into the message without the
        message being encoded a second time (the data's encoding from validation
        is reused).
        """
        return signal_json_parts(
            self.id, self.signal_type, self.workflow_id, self.data, self.timestamp, data_json=self.encoded_data()
        )


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
        return signal_json(self.id, self.seq, self.signal_type, self.workflow_id, self.data, self.timestamp)

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
