"""signalhub embedded in a host's FastAPI app (docs/embedding.md), plus the bench routes.

The host's three lines (`FastAPI(lifespan=hub.lifespan)`, `include_router`,
optionally `hub.asgi(app)`), served by plain `uvicorn.run` with uvicorn's
defaults, as a host would. `BENCH_FASTAPI_WS=1`: the socket through FastAPI's
router (no `hub.asgi`). `--ws signalhub`: signalhub's own uvicorn protocol.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from .common import parse_args, run
from .signalhub_app import add_bench_routes


def host_app() -> object:
    from signalhub.fastapi import SignalHub

    hub = SignalHub()
    app = FastAPI(lifespan=hub.lifespan)
    app.include_router(hub.router)
    add_bench_routes(app)
    if os.environ.get("BENCH_FASTAPI_WS") == "1":
        return app
    return hub.asgi(app)


def main() -> None:
    from signalhub.transport import PROTOCOL_PATH

    args = parse_args()
    if args.ws == "signalhub":
        args.ws = PROTOCOL_PATH
    run(host_app(), args)


if __name__ == "__main__":
    main()
