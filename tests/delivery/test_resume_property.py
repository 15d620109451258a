"""Property: whatever the client's disconnects and reconnects, and however several
emitter processes interleave, the client shows every signal once, in order.

Two `signalhub api` instances behind Redis (publishing after commit, so frames
from concurrent emitters can arrive out of order and exercise the gap fill),
emitter processes, and a client that follows docs/delivery.md: it shows a
signal only when its seq is above the last one shown, and reconnects with
`?since=<last seq>`. Hypothesis picks when and how the client drops its socket.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Iterator

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from signalhub.auth import mint_user_token
from tests.delivery.harness import Emitter, stored
from tests.support import SECRET, ApiProcess

ACTIONS = ("close", "abort", "resume_message", "switch_instance")


@pytest.fixture(scope="module")
def apis(database_url, artifacts, redis_url) -> Iterator[list[ApiProcess]]:
    started = [ApiProcess(database_url, artifacts, BROKER_URL=redis_url).start() for _ in range(2)]
    yield started
    for api in started:
        api.stop()


class ShowingClient:
    """Dedupes by seq (what it shows) and remembers where each raw duplicate came from."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.shown: list[tuple[int, str]] = []
        self.ws = None
        self.api: ApiProcess | None = None
        self.asked_resume = False  # a resume message on this socket may repeat frames in flight
        self.unexpected_duplicates: list[int] = []

    @property
    def last_seq(self) -> int:
        return self.shown[-1][0] if self.shown else 0

    async def open(self, api: ApiProcess) -> None:
        self.ws = await websockets.connect(f"{api.ws}?token={self.token}&since={self.last_seq}", open_timeout=20, max_queue=None)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        assert hello["type"] == "connected"
        self.asked_resume = False
        self.api = api

    async def read(self, until_seq: int | None = None, until_count: int | None = None, timeout: float = 30.0) -> bool:
        """Read until a seq or a number of shown signals is reached; False if the socket closed."""
        deadline = time.monotonic() + timeout
        while not (
            (until_seq is not None and self.last_seq >= until_seq)
            or (until_count is not None and len(self.shown) >= until_count)
        ):
            try:
                text = await asyncio.wait_for(self.ws.recv(), max(0.0, deadline - time.monotonic()))
            except ConnectionClosed:
                return False
            message = json.loads(text)
            if "signal_type" not in message:
                continue
            if message["seq"] > self.last_seq:
                self.shown.append((message["seq"], message["id"]))
            elif not self.asked_resume:
                self.unexpected_duplicates.append(message["seq"])
        return True

    async def drop(self, how: str) -> None:
        if how == "abort":
            self.ws.transport.abort()
        else:
            await self.ws.close()
        self.ws = None


plans = st.fixed_dictionaries(
    {
        "emitters": st.integers(1, 3),
        "per_emitter": st.integers(20, 120),
        "concurrency": st.integers(1, 2),
        "events": st.lists(st.tuples(st.floats(0.0, 1.0), st.sampled_from(ACTIONS)), max_size=5),
        "seed": st.integers(0, 2**16),
    }
)


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans)
async def test_random_disconnects_against_concurrent_emitters_never_show_a_gap_or_a_duplicate(apis, database_url, plan):
    rng = random.Random(plan["seed"])
    user = uuid.uuid4()
    total = plan["emitters"] * plan["per_emitter"]
    client = ShowingClient(mint_user_token(SECRET, user))
    await client.open(rng.choice(apis))
    emitters = [
        await Emitter.start(
            database_url, apis[0].env["BROKER_URL"], [user], plan["per_emitter"],
            pace=0.002, concurrency=plan["concurrency"], kinds=["status_update", "completion", "error"],
        )
        for _ in range(plan["emitters"])
    ]
    try:
        for fraction, action in sorted(plan["events"]):
            if not await client.read(until_count=int(fraction * total)):
                await client.open(rng.choice(apis))  # the server closed on us: just resume
                continue
            if action == "resume_message":
                client.asked_resume = True
                await client.ws.send(json.dumps({"type": "resume", "since": client.last_seq}))
                continue
            await client.drop("abort" if action == "abort" else "close")
            other = next(api for api in apis if api is not client.api)
            await client.open(other if action == "switch_instance" else rng.choice(apis))
        for emitter in emitters:
            assert (await emitter.result())["emitted"] == plan["per_emitter"]
        expected = await stored(database_url, user)
        assert len(expected) == total
        while not await client.read(until_seq=expected[-1][0]):
            await client.open(rng.choice(apis))
        assert client.shown == expected  # no gap, no duplicate, in order
        assert client.unexpected_duplicates == []  # only a resume message may repeat a frame
        await client.drop("close")
    finally:
        for emitter in emitters:
            await emitter.kill()
