"""`signalhub tail`: a minimal resuming WebSocket client that prints signals."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from urllib.parse import urlencode

import websockets
from websockets.typing import Subprotocol


class TokenRejected(Exception):
    """The server closed with 4401: retrying with the same token cannot succeed."""


async def tail(url: str, token: str, since: int | None, workflows: Sequence[str] = ()) -> None:
    """`workflows`: follow only these (the socket subscribes at connect, also on every reconnect)."""
    last = since
    delay = 0.5
    while True:
        params = ([("since", str(last))] if last is not None else []) + [("workflow_id", w) for w in workflows]
        target = f"{url}?{urlencode(params)}" if params else url
        try:
            # The token goes in the subprotocol header, not the URL.
            async with websockets.connect(target, subprotocols=[Subprotocol("bearer"), Subprotocol(token)]) as ws:
                delay = 0.5
                async for raw in ws:
                    message = json.loads(raw)
                    if "seq" in message and "signal_type" in message:
                        if last is not None and message["seq"] <= last:
                            continue
                        last = message["seq"]
                    elif message.get("type") == "connected" and last is None:
                        last = message["seq"]
                    print(json.dumps(message), flush=True)
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            print(f"# closed {code}: {exc.rcvd.reason if exc.rcvd else ''}", file=sys.stderr)
            if code == 4401:
                raise TokenRejected("token invalid or expired: mint a new one (signalhub token)") from None
        except OSError as exc:
            print(f"# cannot connect ({exc}); retrying in {delay:.1f}s", file=sys.stderr)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10)
