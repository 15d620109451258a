"""Limits on the HTTP request head, in front of whichever protocol uvicorn serves with.

uvicorn has no request-head timeout (a client sending one header byte every
few seconds holds a connection forever), and a WebSocket handshake whose URL
or a header line passes the WebSocket library's 8 KiB line limit was logged
and never answered. `RequestHeadGuard` closes both gaps for every request,
HTTP and WebSocket handshake alike, without touching uvicorn's internals: it
is a plain `asyncio.Protocol` that wraps the protocol object uvicorn's own
factory (`uvicorn.Config.http_protocol_class`, public) creates, watches the
bytes on their way in, and forwards them unchanged (docs/security.md says why
this design).

Guarantees, per connection:
- a request head (request line + headers) must be complete within `timeout`
  seconds of the connection opening, or of its first byte for a later request
  on a kept-alive connection; else the client gets `408` and the connection
  is closed (counted in `signalhub_request_head_timeouts_total`);
- a request line longer than `MAX_LINE_BYTES` is answered `414`, a longer
  header line, more than `MAX_HEADERS` headers or a head over `MAX_HEAD_BYTES`
  `431`, and the connection is closed; nothing of it reaches the app;
- after a head that asks for an upgrade (WebSocket) or sends a chunked body,
  the guard steps aside for the rest of the connection (the WebSocket
  protocol replaces it; chunked bodies are not followed). Otherwise it skips
  `Content-Length` body bytes and watches the next head.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, cast

from . import metrics
from .logs import RateLimitedLog

#: Longest request line or header line, CRLF included (the WebSocket library's limit).
MAX_LINE_BYTES = 8192
#: Most header lines in one head (below the WebSocket library's 128).
MAX_HEADERS = 100
#: Largest head in all.
MAX_HEAD_BYTES = 64 * 1024

log = logging.getLogger(__name__)
_refusals_log = RateLimitedLog(log)

_REASONS = {408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


def _response(status: int, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class HeadScanner:
    """Follows request framing in a byte stream, incrementally (pure, no I/O).

    `feed(data)` returns None while all is well, or (status, detail) for a head
    that breaks a limit. `in_head` says whether a head has started and not yet
    ended; `done` that the scanner stepped aside for good.
    """

    __slots__ = ("in_head", "done", "_line", "_lines", "_head_bytes", "_body_left", "_length", "_untracked_body")

    def __init__(self) -> None:
        self.in_head = False
        self.done = False
        self._line = bytearray()  # the current, incomplete line (at most MAX_LINE_BYTES)
        self._lines = 0
        self._head_bytes = 0
        self._body_left = 0
        self._length = 0
        self._untracked_body = False  # an upgrade or a chunked body follows this head

    def feed(self, data: bytes) -> tuple[int, str] | None:
        data = bytes(data)
        pos, size = 0, len(data)
        while pos < size and not self.done:
            if self._body_left:
                step = min(self._body_left, size - pos)
                self._body_left -= step
                pos += step
                continue
            if not self.in_head:
                self.in_head = True
                self._lines = self._head_bytes = self._length = 0
                self._untracked_body = False
                whole = self._whole_head(data, pos)
                if whole is not None:
                    pos = whole
                    continue
            end = data.find(b"\n", pos, pos + MAX_LINE_BYTES + 1)
            stop = size if end < 0 else end + 1
            self._head_bytes += stop - pos
            if len(self._line) + stop - pos > MAX_LINE_BYTES:
                if self._lines == 0:
                    return 414, f"request line (URL) longer than {MAX_LINE_BYTES} bytes"
                return 431, f"a header line is longer than {MAX_LINE_BYTES} bytes"
            if self._head_bytes > MAX_HEAD_BYTES:
                return 431, f"request head larger than {MAX_HEAD_BYTES} bytes"
            self._line += data[pos:stop]
            pos = stop
            if end >= 0:
                refusal = self._line_done(bytes(self._line).rstrip(b"\r\n"))
                self._line.clear()
                if refusal is not None:
                    return refusal
        return None

    def _whole_head(self, data: bytes, pos: int) -> int | None:
        """Fast path for the usual case, a whole, plain head in one chunk: read it with a few
        C-level searches and return where it ends; None to take the line-by-line path
        (which alone refuses: this path only ever accepts)."""
        end = data.find(b"\r\n\r\n", pos, pos + MAX_HEAD_BYTES)
        if end < 0:
            return None
        head = data[pos:end]
        lines = head.split(b"\r\n")
        if (
            not lines[0]
            or len(lines) > MAX_HEADERS + 1
            or max(map(len, lines)) > MAX_LINE_BYTES - 2
            or head.count(b"\n") != len(lines) - 1  # a bare LF: let the careful path read it
        ):
            return None
        lower = head.lower()
        untracked = b"\r\nupgrade:" in lower or b"\r\ntransfer-encoding:" in lower
        length = 0
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            value_end = head.find(b"\r\n", at + 2)
            value = head[at + 17 : len(head) if value_end < 0 else value_end].strip()
            if value.isdigit() and len(value) <= 18 and lower.find(b"\r\ncontent-length:", at + 2) < 0:
                length = int(value)
            else:
                untracked = True  # malformed or repeated: the HTTP parser answers 400
        self.in_head = False
        self._body_left = length
        self.done = untracked
        return end + 4

    def _line_done(self, line: bytes) -> tuple[int, str] | None:
        if not line:
            if self._lines == 0:
                return None  # a stray CRLF between requests (RFC 9112 §2.2 allows it)
            self.in_head = False  # end of head
            self._body_left = self._length
            # What follows is a WebSocket or a chunked body: step aside for good.
            self.done = self._untracked_body
            return None
        self._lines += 1
        if self._lines > MAX_HEADERS + 1:
            return 431, f"more than {MAX_HEADERS} header lines"
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"upgrade", b"transfer-encoding"):
            self._untracked_body = True
        elif name == b"content-length":
            value = value.strip()
            if not (value.isdigit() and len(value) <= 18):  # bytes.isdigit(): ASCII only
                self._untracked_body = True  # the HTTP parser refuses it with 400
            else:
                self._length = int(value)
        return None


class RequestHeadGuard(asyncio.Protocol):
    """Wraps one connection's HTTP protocol (composition: no uvicorn class is subclassed)."""

    __slots__ = ("_inner", "_timeout", "_transport", "_timer", "_scanner")

    def __init__(self, inner: asyncio.Protocol, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._scanner = HeadScanner()

    # -- asyncio.Protocol, forwarded ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, same interface
        self._inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        scanner = self._scanner
        if not scanner.done:
            refusal = scanner.feed(data)
            if refusal is not None:
                self._refuse(*refusal)
                return
            if scanner.done or not scanner.in_head:
                self._disarm()
            elif self._timer is None:
                self._arm()  # the first byte of a later request's head
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- the guard --------------------------------------------------------------------

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        metrics.REQUEST_HEAD_TIMEOUTS.inc()
        _refusals_log.warning("request head not complete within %.0fs; connection closed (408)", self._timeout)
        self._close_with(_response(408, f"request head not complete within {self._timeout:g} s"))

    def _refuse(self, status: int, detail: str) -> None:
        self._disarm()
        metrics.REQUEST_HEADS_REFUSED.labels(str(status)).inc()
        _refusals_log.warning("request head refused (%d): %s", status, detail)
        self._close_with(_response(status, detail))

    def _close_with(self, response: bytes) -> None:
        self._scanner.done = True
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(response)
            transport.close()


def guard_protocol_factory(factory: Callable[..., asyncio.Protocol], timeout: float) -> Callable[..., asyncio.Protocol]:
    """A protocol factory like `factory` (called with the same arguments) whose
    protocols are wrapped in a `RequestHeadGuard`."""

    def create(*args: Any, **kwargs: Any) -> asyncio.Protocol:
        return RequestHeadGuard(factory(*args, **kwargs), timeout)

    return create
