"""python-socketio (ASGI) under uvicorn: one room per user, `await sio.emit(...)`.
Nothing is persisted. HTTP bench routes are served by a FastAPI app mounted beside it."""

from __future__ import annotations

from urllib.parse import parse_qs

import socketio
from fastapi import FastAPI

from .common import ProduceClock, in_background, paced_rounds, padding, parse_args, run, signal_text

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
http = FastAPI()
app = socketio.ASGIApp(sio, other_asgi_app=http)
_users: dict[str, int] = {}


@sio.event
async def connect(sid, environ, auth=None):
    user = parse_qs(environ.get("QUERY_STRING", "")).get("user", ["anonymous"])[0]
    await sio.save_session(sid, {"user": user})
    await sio.enter_room(sid, user)
    _users[user] = _users.get(user, 0) + 1


@sio.event
async def disconnect(sid, *args):
    user = (await sio.get_session(sid)).get("user")
    if user in _users:
        _users[user] -= 1
        if _users[user] <= 0:
            del _users[user]


async def _produce(rounds: int, size: int, rate: float | None) -> None:
    async for r in paced_rounds(rounds, rate):
        pad = padding(size)
        texts = ProduceClock.timed(
            lambda r=r, pad=pad: [(user, signal_text(r + 1, {"status": "running", "pad": pad})) for user in list(_users)]
        )
        for user, text in texts:
            await sio.emit("signal", text, to=user)


_prepared: list[list[tuple[str, str]]] = []


@http.post("/bench/prepare")
async def prepare(body: dict) -> dict:
    users, size = list(_users), int(body.get("size", 200))
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
            await sio.emit("signal", text, to=user)


@http.post("/bench/fanout")
async def fanout(body: dict) -> dict:
    if body.get("prepared"):
        in_background(_deliver())
    else:
        in_background(_produce(int(body["rounds"]), int(body.get("size", 200)), body.get("rate")))
    return {"started": True}


@http.post("/bench/emit")
async def emit(body: dict) -> dict:
    await sio.emit("signal", signal_text(0, body["data"]), to=body["user"])
    return {"ok": True}


@http.get("/bench/stats")
async def stats() -> dict:
    return {"connections": sum(_users.values()), "produce_cpu_seconds": ProduceClock.seconds}


if __name__ == "__main__":
    args = parse_args()
    run(app, args)
