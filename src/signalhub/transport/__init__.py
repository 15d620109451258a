"""The WebSocket transport: protocol, ASGI bypass, socket interface and frame bytes.

Everything here depends only on documented interfaces: the websockets
library's sans-I/O `ServerProtocol`, asyncio's `Protocol`, ASGI 3, and the
protocol-class setting of uvicorn's `Config` (`ws=`). Nothing else in
signalhub touches a transport.
"""

from .asgi import AwaitingWebSocketBypass, WebSocketBypass
from .frames import text_frame
from .protocol import WebSocketProtocol
from .server import SocketClosed
from .socket import SOCKET_EXTENSION, AsgiSocket, Socket, socket_for

#: uvicorn's `ws=` value that selects `WebSocketProtocol`.
PROTOCOL_PATH = "signalhub.transport:WebSocketProtocol"

__all__ = [
    "PROTOCOL_PATH", "SOCKET_EXTENSION", "AsgiSocket", "AwaitingWebSocketBypass", "Socket", "SocketClosed",
    "WebSocketBypass", "WebSocketProtocol", "socket_for", "text_frame",
]
