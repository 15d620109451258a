"""The ConnectionManager from FastAPI's WebSocket docs: a dict user -> sockets,
`await ws.send_text(...)` in a loop. Nothing is persisted."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from .common import ProduceClock, in_background, paced_rounds, padding, parse_args, run, signal_text


class ConnectionManager:
    def __init__(self) -> None:
        self.active: dict[str, list[WebSocket]] = {}

    async def connect(self, user: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active.setdefault(user, []).append(websocket)

    def disconnect(self, user: str, websocket: WebSocket) -> None:
        sockets = self.active.get(user, [])
        if websocket in sockets:
            sockets.remove(websocket)
        if not sockets:
            self.active.pop(user, None)

    async def send_personal_message(self, user: str, message: str) -> None:
        for connection in list(self.active.get(user, ())):
            await connection.send_text(message)


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{user}")
async def websocket_endpoint(websocket: WebSocket, user: str) -> None:
    await manager.connect(user, websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(user, websocket)


async def _produce(rounds: int, size: int, rate: float | None) -> None:
    async for r in paced_rounds(rounds, rate):
        pad = padding(size)
        texts = ProduceClock.timed(
            lambda r=r, pad=pad: [(user, signal_text(r + 1, {"status": "running", "pad": pad})) for user in list(manager.active)]
        )
        for user, text in texts:
            try:
                await manager.send_personal_message(user, text)
            except Exception:
                pass  # a socket that went away; the docs' manager has no other policy


_prepared: list[list[tuple[str, str]]] = []


@app.post("/bench/prepare")
async def prepare(body: dict) -> dict:
    users, size = list(manager.active), int(body.get("size", 200))
    pads = [padding(size) for _ in range(int(body["rounds"]))]  # one per round, as in _produce
    _prepared[:] = ProduceClock.timed(lambda: [
        [(user, signal_text(r + 1, {"status": "running", "pad": pad})) for user in users]
        for r, pad in enumerate(pads)
    ])
    return {"prepared": True}


async def _deliver() -> None:
    prepared = _prepared[:]
    _prepared.clear()
    for texts in prepared:
        for user, text in texts:
            try:
                await manager.send_personal_message(user, text)
            except Exception:
                pass


@app.post("/bench/fanout")
async def fanout(body: dict) -> dict:
    if body.get("prepared"):
        in_background(_deliver())
    else:
        in_background(_produce(int(body["rounds"]), int(body.get("size", 200)), body.get("rate")))
    return {"started": True}


@app.post("/bench/emit")
async def emit(body: dict) -> dict:
    await manager.send_personal_message(body["user"], signal_text(0, body["data"]))
    return {"ok": True}


@app.get("/bench/stats")
async def stats() -> dict:
    return {"connections": sum(len(s) for s in manager.active.values()), "produce_cpu_seconds": ProduceClock.seconds}


if __name__ == "__main__":
    args = parse_args()
    run(app, args)
