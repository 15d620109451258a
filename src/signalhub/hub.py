"""The Hub: user id -> open connections of this API process, and the fan-out.

Guarantees:
- a frame for user U goes to every connection of U on this process, and to
  no other user's connection;
- fan-out is synchronous and allocation-light: the frame's text is decoded
  from the broker message once and the same string object is queued on each
  connection; nothing here awaits a socket, so one slow client never delays
  another.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from . import metrics
from .connection import Connection
from .metrics import signal_fanned_out
from .sendqueue import Frame
from .wire import CLOSE_GOING_AWAY

log = logging.getLogger(__name__)


class LimitExceeded(Exception):
    """Too many connections (per user or in total)."""


class Hub:
    def __init__(self, *, max_connections: int, max_connections_per_user: int) -> None:
        # A tuple per user, not a set: most users have one or two sockets, a
        # 1-tuple is a fifth of an empty set's size, and fan-out iterates it as is.
        self._by_user: dict[str, tuple[Connection, ...]] = {}
        self._total = 0
        self.max_connections = max_connections
        self.max_connections_per_user = max_connections_per_user

    # -- registry ------------------------------------------------------------------

    def add(self, conn: Connection) -> None:
        key = str(conn.user_id)
        conns = self._by_user.get(key)
        if self._total >= self.max_connections:
            raise LimitExceeded("server connection limit reached")
        if conns is not None and len(conns) >= self.max_connections_per_user:
            raise LimitExceeded("too many connections for this user")
        self._by_user[key] = (conn,) if conns is None else conns + (conn,)
        self._total += 1
        metrics.CONNECTIONS.inc()

    def remove(self, conn: Connection) -> None:
        key = str(conn.user_id)
        conns = self._by_user.get(key)
        if conns is None or conn not in conns:
            return
        rest = tuple(c for c in conns if c is not conn)
        if rest:
            self._by_user[key] = rest
        else:
            del self._by_user[key]
        self._total -= 1
        metrics.CONNECTIONS.dec()

    def connections(self) -> Iterator[Connection]:
        for conns in self._by_user.values():
            yield from conns

    def status(self) -> dict[str, Any]:
        """The seed's `/ws/status` body (this process only)."""
        return {
            "total_connections": self._total,
            "connected_users": list(self._by_user),
            "user_connection_counts": {u: len(c) for u, c in self._by_user.items()},
        }

    @property
    def total(self) -> int:
        return self._total

    # -- fan-out -------------------------------------------------------------------

    def dispatch(self, message: str) -> None:
        """Route one broker frame (`wire.broker_frame`) to the user's connections.

        Runs once per signal, and with one socket per user that is once per
        delivery: the frame is taken apart in place (what `wire.parse_broker_frame`
        does) with `str.partition`, the cheapest way in CPython (no argument
        parsing, no slice objects), and counted with one call.
        """
        user, _, rest = message.partition("\n")
        conns = self._by_user.get(user)
        if not conns:
            return  # most frames: a user with no socket on this instance
        seq_text, newline, payload_text = rest.partition("\n")
        try:
            if not newline:
                raise ValueError("no payload line")
            seq = int(seq_text) if seq_text else None
            if seq is not None and seq < 0:
                raise ValueError("negative seq")
        except ValueError:
            log.warning("hub: ignoring a malformed broker frame")
            return
        payload = payload_text or None
        frame = Frame(seq, payload)  # one frame object shared by every connection
        for conn in conns:  # an immutable tuple: safe even if a close changes the registry
            conn.enqueue(frame)
        if seq is not None:
            signal_fanned_out(payload, len(conns))

    def deliver_to_user(self, user_id: uuid.UUID | str, message: dict[str, Any] | str) -> None:
        """Queue a control message for every connection of one user on this process."""
        for conn in self._by_user.get(str(user_id), ()):
            conn.send_control(message)

    def catch_up_all(self) -> None:
        """After a broker reconnect: every connection re-reads what it may have missed."""
        for conn in tuple(self.connections()):
            conn.catch_up()

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server going away") -> None:
        for conn in tuple(self.connections()):
            conn.request_close(code, reason)
