"""The CPU floor of one loopback send per delivery: `python -m bench.send_floor`.

A targeted delivery is one WebSocket frame written to one socket, so whatever
a server does in Python, each delivery costs at least one `send()` of that
frame. This measures that syscall alone, with nothing else in the sending
process: N loopback TCP sockets whose readers live in other processes
(waiting in `epoll_wait` like real clients), one
frame of the fan-out bench's size to each socket per round, and the sender's
CPU time (user + system, `getrusage`) divided by the sends.

Three ways of writing are measured, each in its own rounds:

- `socket.send`: the bare syscall from Python;
- `transport.write`: uvloop's transport, what signalhub's `write_frame` calls;
- `send, 10 frames per call`: ten frames of one socket in one syscall (what a
  socket with a backlog gets), to show what is per syscall and what per byte;
- `socket.send, readers asleep`: rounds 5 ms apart, so every reader has gone
  back to `epoll_wait` and every send pays a cross-process wakeup (a quiet
  server: one signal now and then).

The first three send rounds back to back (the fan-out bench's case: readers
busy, fewer wakeups).

Bounded: 1,000 sockets x 50 rounds x 5 repeats per way (--sockets/--rounds/--repeats);
every wait has a timeout. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import selectors
import socket
import time
from collections.abc import Callable
from typing import Any

from .peers.common import raise_fd_limit

FRAME = b"\x81\x7e\x00\xfa" + b"x" * 250  # a 250-byte text frame, like the fan-out bench's signals
READERS = 2


def _reader(port: int, count: int, ready: Any, stop: Any) -> None:
    raise_fd_limit()
    selector = selectors.DefaultSelector()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    ready.set()
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.2):
            try:
                if not key.fileobj.recv(65536):  # type: ignore[union-attr]
                    selector.unregister(key.fileobj)
            except BlockingIOError:
                pass


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(rounds: int, sends: int, write_round: Callable[[], None], pause: float) -> dict[str, float]:
    usage0, cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), _cpu(), time.perf_counter()
    for _ in range(rounds):
        write_round()
        if pause:
            time.sleep(pause)  # the readers drain and go back to sleep: the next round wakes each one
    usage1, cpu1, wall1 = resource.getrusage(resource.RUSAGE_SELF), _cpu(), time.perf_counter()
    calls = rounds * sends
    sleeping = rounds * pause
    return {
        "cpu_us_per_call": 1e6 * (cpu1 - cpu0) / calls,
        "user_us_per_call": 1e6 * (usage1.ru_utime - usage0.ru_utime) / calls,
        "system_us_per_call": 1e6 * (usage1.ru_stime - usage0.ru_stime) / calls,
        "wall_us_per_call": 1e6 * max(wall1 - wall0 - sleeping, 0.0) / calls,
    }


class _Sink(asyncio.Protocol):
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    raise_fd_limit()

    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    readers = []
    per_reader = [args.sockets // READERS + (i < args.sockets % READERS) for i in range(READERS)]
    for count in per_reader:
        ready = ctx.Event()
        process = ctx.Process(target=_reader, args=(port, count, ready, stop), daemon=True)
        process.start()
        readers.append((process, ready))
    socks = []
    listener.settimeout(30)
    for _ in range(args.sockets):
        sock, _addr = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvloop sets it
        socks.append(sock)
    for _process, ready in readers:
        ready.wait(30)

    import uvloop

    loop = uvloop.new_event_loop()
    sinks: list[_Sink] = []

    async def adopt() -> None:
        for sock in socks:
            _, sink = await loop.connect_accepted_socket(_Sink, sock.dup())
            sinks.append(sink)

    loop.run_until_complete(adopt())
    batch = FRAME * 10

    def bare() -> None:
        for sock in socks:
            sock.send(FRAME)

    def transport() -> None:
        for sink in sinks:
            sink.transport.write(FRAME)

    def ten_per_call() -> None:
        for sock in socks:
            sock.send(batch)

    ways = {
        "socket.send": (bare, 1, 0.0),
        "transport.write": (transport, 1, 0.0),
        "send, 10 frames per call": (ten_per_call, 10, 0.0),
        "socket.send, readers asleep": (bare, 1, 0.005),
    }
    results: dict[str, dict] = {}
    for name, (write_round, frames, pause) in ways.items():
        runs = [_timed(args.rounds, args.sockets, write_round, pause) for _ in range(args.repeats)]
        median = sorted(runs, key=lambda r: r["cpu_us_per_call"])[len(runs) // 2]
        results[name] = {**median, "cpu_us_per_frame": median["cpu_us_per_call"] / frames,
                         "runs_cpu_us_per_call": [round(r["cpu_us_per_call"], 2) for r in runs]}
    stop.set()
    for process, _ready in readers:
        process.join(10)
    print(json.dumps({
        "sockets": args.sockets, "rounds": args.rounds, "repeats": args.repeats, "frame_bytes": len(FRAME),
        "load_average": os.getloadavg(), "cpu_count": os.cpu_count(),
        "ways": results,
    }, indent=2))


if __name__ == "__main__":
    main()
