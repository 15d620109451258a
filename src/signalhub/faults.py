"""Which failures mean "a dependency cannot serve right now; retry shortly", decided once.

Everything that answers a client asks `is_unavailable(exc)`: REST answers 503
with `Retry-After` (api/errors.py), a WebSocket closes with 1013 "try again
later" (`close_code_for`), whatever the component (asyncpg, the OS, a broker
client) and wherever the failure surfaced (connecting, mid-query, in a batch).

Connection-level database failures are turned into `Unavailable` at the
source, by the pool's own connection class (`store.create_pool`): a failure
to connect, whatever its SQLSTATE (`cannot connect now`, `database … is not
currently accepting connections`, authentication), and a query failure that
leaves the connection unusable (server terminated it, asyncpg's "another
operation is in progress", a reset socket), after which that connection is
terminated so the pool never hands it out again.
"""

from __future__ import annotations

import errno
import math
import socket
import sys
import time
from collections.abc import Awaitable
from typing import TypeVar

import asyncpg

T = TypeVar("T")

#: WebSocket close code for "try again later" (RFC 6455 §7.4.1).
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_INTERNAL_ERROR = 1011

_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH",
        "ENETUNREACH", "ENETDOWN", "EHOSTDOWN", "ENOTCONN", "ESHUTDOWN", "EADDRNOTAVAIL",
    )
    if hasattr(errno, name)
)

# asyncpg: the connection is gone or its protocol state is unusable.
_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError
    asyncpg.InternalClientError,  # "cannot switch to state …; another operation is in progress"
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    asyncpg.AdminShutdownError,  # 57P01 pg_terminate_backend, server shutdown
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03 starting up / shutting down
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full, out of memory
)
# InterfaceError subclasses that are a caller's mistake, not an outage.
_NOT_OUTAGES: tuple[type[BaseException], ...] = (asyncpg.DataError, asyncpg.exceptions.ClientConfigurationError)


class Unavailable(ConnectionError):
    """A dependency (`what`: "database" or "broker") cannot serve now; the client should retry.

    A `ConnectionError`, so code that already treats connection errors as
    transient (retries, `except OSError`) keeps doing so.
    """

    def __init__(self, what: str, cause: BaseException | None = None) -> None:
        self.what = what
        self.cause = cause
        detail = f": {type(cause).__name__}" if cause is not None else ""
        super().__init__(f"{what} unavailable{detail}")


def _broker_errors() -> tuple[type[BaseException], ...]:
    """Connection errors of the broker clients that are loaded (they are imported lazily)."""
    found: list[type[BaseException]] = []
    redis_exceptions = sys.modules.get("redis.exceptions")
    if redis_exceptions is not None:
        found += [redis_exceptions.ConnectionError, redis_exceptions.TimeoutError, redis_exceptions.BusyLoadingError]
    nats_errors = sys.modules.get("nats.errors")
    if nats_errors is not None:
        found += [
            getattr(nats_errors, name)
            for name in ("ConnectionClosedError", "NoServersError", "TimeoutError", "StaleConnectionError",
                         "ConnectionReconnectingError", "ConnectionDrainingError", "OutboundBufferLimitError")
            if hasattr(nats_errors, name)
        ]
    return tuple(found)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means a dependency is down or its connection broke (answer 503 / 1013)."""
    if isinstance(exc, Unavailable | ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, _NOT_OUTAGES):
        return False
    if isinstance(exc, _DATABASE_ERRORS + _broker_errors()):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def close_code_for(exc: BaseException) -> int:
    """The WebSocket close code for a failure while serving a socket: 1013 for a dependency's
    outage, else 1011. A bare OS error there is the client's own socket failing, not an outage
    (the database's are `Unavailable` by then), so it stays 1011."""
    if isinstance(exc, OSError) and not isinstance(exc, Unavailable):
        return CLOSE_INTERNAL_ERROR
    return CLOSE_TRY_AGAIN_LATER if is_unavailable(exc) else CLOSE_INTERNAL_ERROR


class QueryOutcomes:
    """When one pool's queries last succeeded, and last failed as an outage
    (`time.monotonic()` seconds; a failure to connect counts as one).

    Readiness reads it (`serving`): a pool whose queries keep succeeding is
    serving, however long its queue, and is not asked again. A readiness
    query of its own would wait in that queue and could time out on an
    instance that is only busy (docs/scaling.md, health checks).
    """

    __slots__ = ("succeeded_at", "failed_at")

    def __init__(self) -> None:
        self.succeeded_at = self.failed_at = -math.inf

    def serving(self, within: float, now: float | None = None) -> bool:
        """True when a query succeeded in the last `within` seconds and none failed since."""
        now = time.monotonic() if now is None else now
        return self.succeeded_at > self.failed_at and now - self.succeeded_at <= within


class GuardedConnection(asyncpg.Connection):
    """The pool's connection class (asyncpg's documented `connection_class` hook).

    Guarantee: a query failure that `is_unavailable` classifies terminates this
    connection (the pool replaces it on the next acquire instead of reusing a
    poisoned one) and is raised as `Unavailable` (its cause chained). With
    `outcomes` set (by the pool's `init`, `store.create_pool`), each query's
    success or outage is recorded there.
    """

    outcomes: QueryOutcomes | None = None

    async def _guarded(self, query: Awaitable[T]) -> T:
        try:
            result = await query
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if self.outcomes is not None:
                self.outcomes.failed_at = time.monotonic()
            if not self.is_closed():
                self.terminate()
            raise Unavailable("database", exc) from exc
        if self.outcomes is not None:
            self.outcomes.succeeded_at = time.monotonic()
        return result

    async def execute(self, *args, **kwargs):
        return await self._guarded(super().execute(*args, **kwargs))

    async def executemany(self, *args, **kwargs):
        return await self._guarded(super().executemany(*args, **kwargs))

    async def fetch(self, *args, **kwargs):
        return await self._guarded(super().fetch(*args, **kwargs))

    async def fetchrow(self, *args, **kwargs):
        return await self._guarded(super().fetchrow(*args, **kwargs))

    async def fetchval(self, *args, **kwargs):
        return await self._guarded(super().fetchval(*args, **kwargs))


async def connect_or_unavailable(*args, **kwargs) -> asyncpg.Connection:
    """`asyncpg.connect` for the pool: any failure to connect is `Unavailable`, whatever its
    SQLSTATE (a database refusing connections answers 55000, which is no outage elsewhere)."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except Exception as exc:
        raise Unavailable("database", exc) from exc
