"""The processes signalhub runs itself exempt startup's objects from garbage
collection once started (heap.py); a host's app served by `run_server` is left alone."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref

import pytest
import uvicorn

from signalhub.heap import freeze_startup_objects
from signalhub.server import GracefulServer


@pytest.fixture(autouse=True)
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_freezing_collects_startup_garbage_first_and_then_exempts_the_survivors():
    kept, garbage = Cycle(), Cycle()
    dead = weakref.ref(garbage)
    del garbage
    freeze_startup_objects()
    assert dead() is None  # a cycle left by startup is not kept forever
    assert gc.get_freeze_count() > 1000  # modules, classes, functions: out of every later collection
    assert kept.me is kept


async def asgi_app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})


class Hub:
    """What GracefulServer uses of a SignalHub: readiness, the drain setting, closing sockets."""

    class settings:  # noqa: N801 - stands for a Settings object
        shutdown_drain_seconds = 0.0

    draining = False

    async def close_sockets(self) -> None:
        pass


@pytest.mark.parametrize("freeze_heap", [True, False])
async def test_the_server_freezes_once_started_only_when_asked(freeze_heap):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(asgi_app, log_level="warning", lifespan="on")
    server = GracefulServer(config, Hub(), freeze_heap=freeze_heap)  # type: ignore[arg-type]
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        for _ in range(500):  # bounded: up to 5 s
            if server.started or serving.done():
                break
            await asyncio.sleep(0.01)
        assert server.started and (gc.get_freeze_count() > 0) is freeze_heap
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        listener.close()
