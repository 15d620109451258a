"""A minimal WebSocket client (RFC 6455) on a bare asyncio Protocol, for the load generator.

Why not a full client library: the load generator shares the machine's cores with the
server under test, so its cost per received frame must be as small as possible. This
client parses frame headers and counts; it decodes a payload only when asked (latency
runs) and inflates it only when the server negotiated per-message deflate. Like a
browser, it offers per-message deflate by default.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import zlib
from collections.abc import Callable

DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (clients must mask; a zero mask keeps it cheap and valid)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return header + b"\x00\x00\x00\x00" + payload


class WsClient(asyncio.Protocol):
    """`on_text(client, payload: bytes)` is called for each text message (inflated if needed)."""

    def __init__(self, host: str, path: str, on_text: Callable[[WsClient, bytes], None], *,
                 compression: bool = True) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            + (f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n" if compression else "")
            + "\r\n"
        ).encode()
        self._on_text = on_text
        self._buffer = bytearray()
        self._upgraded = False
        self._inflater = None
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.aborted = False

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code or 1006)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).decode("latin-1")
            del buffer[: end + 4]
            if not head.startswith("HTTP/1.1 101"):
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(head.split("\r\n", 1)[0]))
                self.transport.close()
                return
            if "permessage-deflate" in head.lower():
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            if self.opened.done():  # the opener gave up (timed out) before the upgrade arrived
                self.transport.close()
                return
            self._upgraded = True
            self.opened.set_result(True)
        self._frames()

    def _frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            b0, b1 = buffer[0], buffer[1]
            n = b1 & 0x7F
            offset = 2
            if n == 126:
                if len(buffer) < 4:
                    return
                n = struct.unpack_from("!H", buffer, 2)[0]
                offset = 4
            elif n == 127:
                if len(buffer) < 10:
                    return
                n = struct.unpack_from("!Q", buffer, 2)[0]
                offset = 10
            if len(buffer) < offset + n:
                return
            payload = bytes(buffer[offset : offset + n])
            del buffer[: offset + n]
            opcode = b0 & 0x0F
            if opcode == 1:
                if b0 & 0x40 and self._inflater is not None:
                    payload = self._inflater.decompress(payload + b"\x00\x00\xff\xff")
                self._on_text(self, payload)
            elif opcode == 9:
                self.transport.write(_client_frame(10, payload))
            elif opcode == 8:
                self.close_code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
                if not self.closed.done():
                    self.closed.set_result(self.close_code)
                self.transport.close()
                return

    # -- actions ---------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_client_frame(1, text.encode()))

    def stall(self) -> None:
        """Stop reading: the kernel's buffers fill and the server sees a slow consumer."""
        if self.transport is not None:
            self.transport.pause_reading()

    def abort(self) -> None:
        self.aborted = True
        if self.transport is not None:
            self.transport.abort()


async def open_client(port: int, path: str, on_text, *, compression: bool = True, timeout: float = 60.0,
                      receive_buffer: int | None = None) -> WsClient:
    """Connect and finish the upgrade. `receive_buffer` pins SO_RCVBUF (no autotuning), as on
    a slow link where little is in flight."""
    loop = asyncio.get_running_loop()
    factory = lambda: WsClient(f"127.0.0.1:{port}", path, on_text, compression=compression)  # noqa: E731
    if receive_buffer is None:
        connecting = loop.create_connection(factory, "127.0.0.1", port)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), timeout)
        connecting = loop.create_connection(factory, sock=sock)
    _, client = await asyncio.wait_for(connecting, timeout)
    await asyncio.wait_for(client.opened, timeout)
    return client
