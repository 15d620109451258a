"""A host's own FastAPI app with signalhub embedded, as docs/embedding.md shows it:
its own lifespan and state, its own CORS, its own body limit, its own API-key
auth on its own routes and its own WebSocket; signalhub is three lines.

Test knobs (environment, read by this test app only): `HOST_PREFIX` includes
signalhub under a prefix; `HOST_WRAP=1` serves signalhub's socket through
`hub.asgi(app)`; `HOST_ECHO_PATH` is where the host's own WebSocket lives.
`python -m tests.embedding.host_app PORT` serves it as docs/embedding.md's
`main.py` does: `hub.serve(app)`.
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from signalhub.fastapi import SignalHub
from tests.embedding.host_config import HOST_API_KEY, HOST_MAX_BODY, HOST_ORIGIN

hub = SignalHub()  # Settings from the environment (DATABASE_URL, SUPABASE_JWT_SECRET, …)


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.settings = {"owner": "host"}  # the host's own state, under a name signalhub must not take
    async with hub.lifespan(app):
        app.state.host_ready = True
        yield
    app.state.host_ready = False


app = FastAPI(lifespan=lifespan)
app.add_middleware(
    CORSMiddleware, allow_origins=[HOST_ORIGIN], allow_methods=["*"], allow_headers=["*"], allow_credentials=True
)


@app.middleware("http")
async def host_body_limit(request: Request, call_next):
    if int(request.headers.get("content-length") or 0) > HOST_MAX_BODY:
        return JSONResponse({"detail": "host: body too large"}, status_code=413)
    return await call_next(request)


app.include_router(hub.router, prefix=os.environ.get("HOST_PREFIX", ""))


async def host_caller(x_api_key: Annotated[str | None, Header()] = None) -> str:
    """The host's own auth: nothing to do with signalhub's tokens."""
    if x_api_key != HOST_API_KEY:
        raise HTTPException(401, detail="host: api key required")
    return "host-caller"


class Thing(BaseModel):
    owner: uuid.UUID
    name: str


@app.get("/hello")
async def hello(request: Request) -> dict:
    return {"hello": "host", "ready": request.app.state.host_ready, "settings": request.app.state.settings}


@app.post("/api/v1/things")
async def make_thing(thing: Thing, _: Annotated[str, Depends(host_caller)]) -> dict:
    result = await hub.emit(
        thing.owner, "status_update", f"thing-{thing.name}", {"status": "created"}, idempotency_key=f"thing-{thing.name}"
    )
    return {"thing": thing.name, "signal_id": str(result.signal.id), "seq": result.signal.seq, "created": result.created}


@app.websocket(os.environ.get("HOST_ECHO_PATH", "/echo"))
async def host_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("host echo: " + await websocket.receive_text())
    await websocket.close()


if os.environ.get("HOST_WRAP") == "1":
    app = hub.asgi(app)

if __name__ == "__main__":
    import sys

    hub.serve(app, host="127.0.0.1", port=int(sys.argv[1]))
