"""Every wire format signalhub speaks, each defined once. Pure: no I/O.

- **Signal JSON** (what a client receives, and what the broker carries):
  `{"id","seq","signal_type","workflow_id","data","timestamp"}`, compact, keys
  in exactly this order, so a receiver can read a field without decoding
  (`signal_type_of`, `workflow_id_of`, `timestamp_of`).
- **Broker frame**: `user_id \\n seq \\n payload` (`broker_frame`,
  `parse_broker_frame`); seq empty for control messages; payload empty when
  the signal was too big for the broker and must be read from the database.
  The SQL insert builds the same frame around the seq it assigns, from
  `notify_parts`.
- **Control messages** server -> client (`connected`, `pong`, `resumed`,
  `inbox`) and their `type` names.
- **Close codes**.

Guarantees: `signal_json` and `signal_json_parts` produce byte-identical text
for the same signal; `parse_broker_frame(broker_frame(u, s, p)) == (u, s, p or None)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, get_args

# -- signal types -------------------------------------------------------------------

#: The seed's four signal types, in the seed's order: their `data` is validated (signals.py).
SeedSignalType = Literal["status_update", "progress", "completion", "error"]
SEED_SIGNAL_TYPES: tuple[str, ...] = get_args(SeedSignalType)
#: Older names for the seed types.
SignalType = SeedSignalType
SIGNAL_TYPES = SEED_SIGNAL_TYPES

#: Every accepted `signal_type` (seed or custom): lower-case, starts with a letter,
#: at most 64 characters of letters, digits, `_`, `.` and `-`. The database's CHECK
#: constraint (migration open_signal_types) holds the same expression.
SIGNAL_TYPE_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"

# -- close codes ----------------------------------------------------------------------

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # server shutting down: reconnect (elsewhere) and resume
CLOSE_INVALID_TEXT = 1007  # a text message that is not UTF-8
CLOSE_POLICY = 1008  # bad inbound message, origin not allowed, bad `since`
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011  # the sender failed: reconnect and resume
CLOSE_TRY_AGAIN_LATER = 1013  # connection limit reached, database unavailable
CLOSE_TOKEN = 4401  # token invalid or expired: refresh, then reconnect
CLOSE_TOO_SLOW = 4408  # the send queue overflowed: reconnect and resume

# -- JSON ---------------------------------------------------------------------------------


# Built once: `json.dumps` with any non-default option builds a new encoder on every call,
# which is a third of the cost of encoding a small signal.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON, the one encoding used on the wire and in the broker."""
    return _ENCODER.encode(value)


def format_timestamp(ts: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, as in the seed's examples."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- signal JSON ------------------------------------------------------------------------


def signal_json_parts(
    id: object, signal_type: str, workflow_id: str, data: Any, timestamp: datetime, *, data_json: str | None = None
) -> tuple[str, str]:
    """The signal JSON split around its seq: `head + str(seq) + tail`, so the
    database can put in the seq it assigns without the text being encoded twice.
    `data_json`: `dumps(data)` when the caller has it already."""
    return signal_json_head(id), signal_json_tail(signal_type, workflow_id, data_json or dumps(data), timestamp)


def signal_json_head(id: object) -> str:
    """The signal JSON before its seq (`signal_json_parts`)."""
    return f'{{"id":"{id}","seq":'


def signal_json_tail(signal_type: str, workflow_id: str, data_json: str, timestamp: datetime) -> str:
    """The signal JSON after its seq (`signal_json_parts`): the same for every
    recipient of one signal, so a many-recipient write makes it once."""
    # An ISO-8601 timestamp needs no JSON escaping: quoted as is.
    return (
        f',"signal_type":{dumps(signal_type)},"workflow_id":{dumps(workflow_id)},'
        f'"data":{data_json},"timestamp":"{format_timestamp(timestamp)}"}}'
    )


def signal_json(id: object, seq: int, signal_type: str, workflow_id: str, data: Any, timestamp: datetime) -> str:
    """The exact text a client receives for one signal."""
    head, tail = signal_json_parts(id, signal_type, workflow_id, data, timestamp)
    return f"{head}{seq}{tail}"


_DECODER = json.JSONDecoder()
#: What precedes a signal JSON's `signal_type` value (readers that need no decoding).
SIGNAL_TYPE_KEY = ',"signal_type":"'
_PROGRESS_KEY = ',"signal_type":"progress"'
_WORKFLOW_KEY = ',"workflow_id":'
_TIMESTAMP_KEY = ',"timestamp":"'


def signal_type_of(text: str) -> str | None:
    """A signal JSON's `signal_type`, read without decoding (None when absent)."""
    start = text.find(SIGNAL_TYPE_KEY)
    if start < 0:
        return None
    start += len(SIGNAL_TYPE_KEY)
    return text[start : text.find('"', start)]


def is_progress(text: str) -> bool:
    """Whether a signal JSON is a `progress` signal (its type follows `seq`)."""
    return text.startswith(_PROGRESS_KEY, text.find(',"signal_type"'))


def workflow_id_of(text: str) -> str | None:
    """A signal JSON's `workflow_id` (the id may hold escapes: decoded as JSON)."""
    start = text.find(_WORKFLOW_KEY)
    if start < 0:
        return None
    value, _ = _DECODER.raw_decode(text, start + len(_WORKFLOW_KEY))
    return value if isinstance(value, str) else None


def timestamp_of(text: str) -> float | None:
    """A signal JSON's `timestamp` as Unix time (None when absent or unreadable).
    `data` precedes it, so the last occurrence of the key is the real one."""
    start = text.rfind(_TIMESTAMP_KEY)
    if start < 0:
        return None
    start += len(_TIMESTAMP_KEY)
    try:
        return datetime.fromisoformat(text[start : text.find('"', start)]).timestamp()
    except ValueError:
        return None


# -- broker frames ----------------------------------------------------------------------


def broker_frame(user_id: object, seq: int | None, payload: str) -> str:
    """`user_id \\n seq \\n payload` (seq empty for control messages). The payload is
    the exact wire text, so receivers route without decoding it."""
    return f"{user_id}\n{'' if seq is None else seq}\n{payload}"


def parse_broker_frame(message: str) -> tuple[str, int | None, str | None]:
    """(user id, seq or None, payload or None: read it from the database).
    Raises ValueError for a malformed frame."""
    user, seq_text, payload = message.split("\n", 2)
    seq = int(seq_text) if seq_text else None
    if seq is not None and seq < 0:
        raise ValueError("negative seq")
    return user, seq, payload or None


def notify_parts(
    user_id: object, head: str, tail: str, *, limit: int, tail_bytes: int | None = None
) -> tuple[str, str, str | None]:
    """The three strings the SQL insert joins around the seq it assigns into a
    broker frame: `prefix || seq || middle || seq || tail`, i.e.
    `user \\n SEQ \\n head SEQ tail`. When the frame would exceed `limit` bytes
    the tail is None and the SQL writes `user \\n SEQ \\n` (read from the table).
    `tail_bytes`: `len(tail.encode())`, when the caller has it already."""
    prefix = f"{user_id}\n"
    if tail_bytes is None:
        tail_bytes = len(tail.encode())
    if len(prefix) + len(head.encode()) + tail_bytes + 60 > limit:
        return prefix, "\n", None
    return prefix, "\n" + head, tail


# -- control messages (server -> client) -------------------------------------------------

CONTROL_TYPES = ("connected", "pong", "resumed", "inbox", "subscribed")


def connected(user_id: object, seq: int) -> str:
    """First message on every socket: the user and the latest seq stored for them."""
    return dumps({"type": "connected", "user_id": str(user_id), "seq": seq})


PONG = dumps({"type": "pong"})


def resumed(recovered: bool) -> str:
    """End of a replay; `recovered: false` = too much was missed, refetch the inbox."""
    return dumps({"type": "resumed", "recovered": recovered})


def subscribed(workflow_ids: Iterable[str]) -> str:
    """The socket's whole current set of followed workflows (answers subscribe/unsubscribe)."""
    return dumps({"type": "subscribed", "workflow_ids": list(workflow_ids)})


def inbox_changed(unread_count: int) -> str:
    """The user's inbox changed elsewhere (another tab)."""
    return dumps({"type": "inbox", "unread_count": unread_count})
