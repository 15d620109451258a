"""The socket a connection writes to under any ASGI server, and the bypass that
sends one WebSocket path straight to its endpoint."""

from __future__ import annotations

import asyncio

from signalhub.transport import SOCKET_EXTENSION, AsgiSocket, WebSocketBypass, socket_for


async def test_under_another_server_the_socket_declines_pre_encoded_frames_and_sends_asgi_messages():
    sent: list[dict] = []

    async def send(message):
        sent.append(dict(message))

    sock = socket_for({"type": "websocket", "extensions": {}}, send)
    assert isinstance(sock, AsgiSocket)
    assert sock.write_frame(b"\x81\x01x") is False
    await sock.send_text("hello")
    await sock.close(4408, "too slow")
    sock.abort()  # nothing to drop: the server ends the connection when the app returns
    assert sent == [{"type": "websocket.send", "text": "hello"},
                    {"type": "websocket.close", "code": 4408, "reason": "too slow"}]


async def test_signalhubs_protocol_is_the_socket_when_it_serves_the_connection():
    own = object()
    assert socket_for({"extensions": {SOCKET_EXTENSION: own}}, None) is own  # type: ignore[arg-type]


async def test_the_bypass_hands_its_path_to_the_endpoint_and_everything_else_to_the_app():
    calls: list[tuple[str, str]] = []

    class App:
        state = "the app's state"

        async def __call__(self, scope, receive, send):
            calls.append(("app", scope["path"]))

    async def endpoint(scope, receive, send):
        calls.append(("endpoint", scope["path"]))
        assert scope["app"] is app

    app = App()
    bypass = WebSocketBypass(app, "/ws", endpoint)
    await bypass({"type": "websocket", "path": "/ws"}, None, None)
    await bypass({"type": "websocket", "path": "/other"}, None, None)
    await bypass({"type": "http", "path": "/ws"}, None, None)
    assert calls == [("endpoint", "/ws"), ("app", "/other"), ("app", "/ws")]
    assert bypass.state == "the app's state"  # servers may read the wrapped app's attributes


async def test_the_bypass_returns_the_endpoints_coroutine_without_a_frame_of_its_own():
    async def endpoint(scope, receive, send):
        await asyncio.sleep(0)

    async def app(scope, receive, send):  # pragma: no cover - not reached
        pass

    result = WebSocketBypass(app, "/ws", endpoint)({"type": "websocket", "path": "/ws"}, None, None)
    assert asyncio.iscoroutine(result) and result.cr_code is endpoint.__code__
    await result
