"""A spawned client process driven over a pipe: what the load generator and the
cluster bench's followers share. The process runs one asyncio loop (uvloop when
installed) with a raised fd limit, and answers one command at a time."""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing as mp
import threading
from typing import Any


def _worker_main(pipe, module: str, function: str) -> None:
    from .peers.common import raise_fd_limit

    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    serve = getattr(importlib.import_module(module), function)
    asyncio.run(serve(pipe))


class PipeWorker:
    """Spawns a process running `module.function(pipe)` (an async function that reads
    `(command, arg)` tuples and answers each); `call` blocks with a timeout."""

    def __init__(self, module: str, function: str, what: str) -> None:
        self.what = what
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, module, function), daemon=True)
        self.process.start()
        self._lock = threading.Lock()

    def call(self, command: str, arg: Any = None, timeout: float = 120.0) -> Any:
        with self._lock:
            self._pipe.send((command, arg))
            if not self._pipe.poll(timeout):
                raise TimeoutError(f"{self.what} did not answer {command!r} within {timeout}s")
            return self._pipe.recv()

    def stop(self) -> None:
        try:
            self.call("close", timeout=30)
        except Exception:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
